"""The doc validation harness: extract, classify and run every fenced block of the docs."""
