"""The doc validation harness: extract, classify and run every fenced block of the docs.

``plugin`` is the pytest plugin (options, settings in ``config.stash``, parametrization of the doc
tests, the summary); ``grammar`` parses fence attributes; ``extract`` finds the blocks as the site
build sees them; ``runners`` has one module per kind of block; ``pages`` the page-level checks.
"""
