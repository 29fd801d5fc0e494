"""Where the project finds things on disk (shared recordings, caches), and how it writes files there.

Every location is a setting with a sensible default, so a user can point the
project elsewhere without touching code.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def replaced_whole(path: Path) -> Iterator[Path]:
    """Yield a temporary file beside ``path`` to write; once the block succeeds it becomes ``path``.

    Readers (and an interrupted run resuming) see the old file or the new one,
    never half of one; if the block fails, ``path`` is untouched and the
    temporary file removed. The result is 0644, not mkstemp's private 0600, so
    caches, checkpoints and datasets can be shared between accounts.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        temporary.chmod(0o644)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
