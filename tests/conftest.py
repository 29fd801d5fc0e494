"""Shared fixtures: the real-data folder, skipped with a clear message where absent."""

from __future__ import annotations

from pathlib import Path

import pytest

from fsvae_core.paths import DATA_DIR_ENV, data_dir


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real recordings; skips the test where it is absent."""
    folder = data_dir()
    if not folder.is_dir():
        pytest.skip(
            f"real recordings not found at {folder}: set ${DATA_DIR_ENV} to the folder "
            "described in ../shared/data/README.md (NTU, UTD-MHAD, NW-UCLA samples)"
        )
    return folder
