"""Where the project finds things on disk: shared recordings and caches.

Every location is a setting with a sensible default, so a user can point the
project elsewhere without touching code.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

DATA_DIR_ENV = "FSVAE_DATA_DIR"
CACHE_DIR_ENV = "FSVAE_CACHE_DIR"


def data_dir() -> Path:
    """The folder of real recordings (``$FSVAE_DATA_DIR``, default ``../shared/data``)."""
    configured = os.environ.get(DATA_DIR_ENV)
    if configured:
        return Path(configured).expanduser()
    return (PROJECT_ROOT / ".." / "shared" / "data").resolve()


def cache_dir() -> Path:
    """The folder for derived, re-creatable files (``$FSVAE_CACHE_DIR``, default ``~/.cache/fsvae``)."""
    configured = os.environ.get(CACHE_DIR_ENV)
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "fsvae"
