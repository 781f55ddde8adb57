"""Build the docs once, strictly, and publish them as one version of the versioned site (mike).

The site is published per minor version: ``<site_url>/<major.minor>/`` holds the docs of that
release, ``latest/`` redirects to the newest one, ``versions.json`` lists them (the theme's version
selector reads it), and the root redirects to ``latest/``. Error messages link into their own
version (``dataflow._catalog.error_url``), so an old release's message opens the page that matches it.

mike keeps the versions on a git branch (``gh-pages``). This script runs the one
``mkdocs build --strict`` inside mike's deploy, so mike commits exactly the build that was checked:

    python scripts/versioned_docs.py --out site              # a throwaway git repository in a temp dir
    python scripts/versioned_docs.py --repo . --out site     # the repository's own gh-pages branch (CI)

``--out`` receives the branch's tree (every published version), ready to be served or uploaded;
``--log`` receives the build's output. Without ``--repo`` nothing touches a real repository: the
tests and ``nox -s tests`` use that form.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import chdir, contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "mkdocs.yml"
ALIAS = "latest"
BRANCH = "gh-pages"


def docs_version() -> str:
    """``major.minor`` of the library's version: the site keeps one version per minor release."""
    sys.path.insert(0, str(ROOT / "src"))
    try:
        from dataflow._catalog import docs_version as version
    finally:
        sys.path.pop(0)
    return version()


@contextmanager
def _throwaway_repository() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="dataflow-pages-") as tmp:
        repo = Path(tmp)
        for args in (["init", "-q"], ["config", "user.name", "docs build"], ["config", "user.email", "docs@localhost"]):
            subprocess.run(["git", *args], cwd=repo, check=True)
        yield repo


def _git_env() -> dict[str, str]:
    """mike commits through git: give it an identity when the machine has none."""
    env = dict(os.environ)
    for key, value in (("GIT_AUTHOR_NAME", "docs build"), ("GIT_COMMITTER_NAME", "docs build"),
                       ("GIT_AUTHOR_EMAIL", "docs@localhost"), ("GIT_COMMITTER_EMAIL", "docs@localhost")):
        env.setdefault(key, value)
    return env


def deploy(repo: Path, version: str, build_dir: Path, config: Path = CONFIG) -> tuple[int, str]:
    """``mkdocs build --strict`` of ``config`` as ``version``, committed by mike to ``repo``'s gh-pages.

    Returns the build's exit code and output. Nothing is committed when the build fails.
    """
    from mike import commands, mkdocs_utils

    os.environ.update(_git_env())
    cfg = mkdocs_utils.load_config(str(config))
    cfg["site_dir"] = str(build_dir)
    result: subprocess.CompletedProcess[str] | None = None
    with chdir(repo):
        try:
            with commands.deploy(cfg, version, version, [ALIAS], update_aliases=True,
                                 alias_type=commands.AliasType.redirect, branch=BRANCH,
                                 message=f"Deploy the docs of {version}"), \
                 mkdocs_utils.inject_plugin(str(config)) as config_file:
                result = subprocess.run(
                    [sys.executable, "-m", "mkdocs", "build", "--strict", "--clean", "-f", config_file,
                     "-d", str(build_dir)],
                    cwd=config.parent, env={**os.environ, mkdocs_utils.docs_version_var: version,
                                            "NO_MKDOCS_2_WARNING": "1"},
                    capture_output=True, text=True, timeout=600,
                )
                if result.returncode != 0:
                    raise _BuildFailed()
        except _BuildFailed:
            assert result is not None
            return result.returncode, result.stdout + result.stderr
        commands.set_default(ALIAS, branch=BRANCH, message=f"Default to {ALIAS}")
    assert result is not None
    return 0, result.stdout + result.stderr


class _BuildFailed(Exception):
    """The strict build failed: leave mike's context without committing."""


def export(repo: Path, out: Path) -> None:
    """The gh-pages tree of ``repo`` (every published version) into ``out``, replacing it."""
    archive = subprocess.run(["git", "archive", "--format=tar", BRANCH], cwd=repo, check=True,
                             capture_output=True).stdout
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(out, filter="data")


def publish(out: Path, log: Path | None = None, repo: Path | None = None, config: Path = CONFIG) -> int:
    """Build, deploy and export; returns the build's exit code (0: ``out`` holds the versioned site)."""
    version = docs_version()
    with tempfile.TemporaryDirectory(prefix="dataflow-site-build-") as build_tmp:
        build_dir = Path(build_tmp) / "site"
        if repo is None:
            with _throwaway_repository() as throwaway:
                code, output = deploy(throwaway, version, build_dir, config)
                if code == 0:
                    export(throwaway, out)
        else:
            code, output = deploy(repo.resolve(), version, build_dir, config)
            if code == 0:
                export(repo.resolve(), out)
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(output, encoding="utf-8")
    sys.stdout.write(output)
    if code == 0:
        print(f"versioned docs: {version} (alias {ALIAS}) in {out}")
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="where the versioned site is written")
    parser.add_argument("--log", type=Path, help="write the build's output to this file")
    parser.add_argument("--repo", type=Path, help="deploy to this repository's gh-pages (default: a throwaway one)")
    parser.add_argument("--config", type=Path, default=CONFIG, help="the mkdocs.yml to build")
    args = parser.parse_args(argv)
    return publish(args.out.resolve(), args.log, args.repo, args.config.resolve())


if __name__ == "__main__":
    sys.exit(main())
