"""The harness's settings for one pytest run, kept in ``config.stash`` (never in module globals)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .inventory import Inventory, build_inventory

REPO = Path(__file__).resolve().parents[3]
#: Set by the controller in update mode; every xdist worker writes its proposed rewrites there.
UPDATE_DIR_ENV = "DOC_VALIDATION_UPDATE_DIR"


@dataclass
class Settings:
    """What ``--docs-config``, ``--docs-page`` and ``--update-docs`` (or their variables) chose."""

    config_file: Path
    pages: list[str]
    update: bool
    _inventory: Inventory | None = field(default=None, repr=False)

    @property
    def update_dir(self) -> Path | None:
        directory = os.environ.get(UPDATE_DIR_ENV)
        return Path(directory) if self.update and directory else None

    def inventory(self) -> Inventory:
        """Every block of the selected pages, built once per process on first use."""
        if self._inventory is None:
            self._inventory = build_inventory(self.config_file, self.pages)
        return self._inventory


SETTINGS = pytest.StashKey[Settings]()


def settings(config: pytest.Config) -> Settings:
    return config.stash[SETTINGS]
