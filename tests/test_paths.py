"""paths.replaced_whole: files are replaced whole or not at all."""

from __future__ import annotations

import stat

import pytest

from fsvae_core.paths import replaced_whole


def test_the_written_file_replaces_the_old_one_and_is_shareable(tmp_path):
    target = tmp_path / "sub" / "metrics.json"
    with replaced_whole(target) as temporary:
        temporary.write_text("first")
    with replaced_whole(target) as temporary:
        assert target.read_text() == "first"  # still the old file while the new one is written
        temporary.write_text("second")
    assert target.read_text() == "second"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert [p.name for p in target.parent.iterdir()] == ["metrics.json"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "run.ckpt.safetensors"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="disk full"):
        with replaced_whole(target) as temporary:
            temporary.write_text("half")
            raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["run.ckpt.safetensors"]
