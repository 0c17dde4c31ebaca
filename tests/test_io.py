"""Atomic writes: nothing appears unless the block succeeds, and what appears has the usual permissions."""

from __future__ import annotations

import os
import stat

import pytest

from robust3d.data.io import DIR_MODE, FILE_MODE, atomic_dir, atomic_path


def test_atomic_outputs_get_the_umask_modes_not_the_temp_files_private_ones(tmp_path):
    with atomic_path(tmp_path / "a.txt") as tmp:
        tmp.write_text("x")
        assert stat.S_IMODE(os.stat(tmp).st_mode) == 0o600  # private while being written
    with atomic_dir(tmp_path / "d") as tmp:
        (tmp / "f").write_text("y")
    assert stat.S_IMODE(os.stat(tmp_path / "a.txt").st_mode) == FILE_MODE
    assert stat.S_IMODE(os.stat(tmp_path / "d").st_mode) == DIR_MODE


def test_a_failed_block_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "a.txt") as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    with pytest.raises(RuntimeError), atomic_dir(tmp_path / "d") as tmp:
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []
