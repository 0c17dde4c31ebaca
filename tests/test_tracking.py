"""Folder outputs are dated by their newest file (robust3d.data.tracking), so a file changed inside one reruns the
jobs that read it."""

from __future__ import annotations

import os

from robust3d.data.tracking import TIMESTAMP, refresh_folder_timestamps


def _mtime(path) -> int:
    return os.stat(path).st_mtime_ns


def test_a_folder_output_moves_to_its_newest_file_and_only_then(tmp_path):
    chunk, other = tmp_path / "train" / "chunk000", tmp_path / "test" / "chunk000"
    for folder in (chunk, other):
        (folder / "images").mkdir(parents=True)
        (folder / "images" / "x.png").write_bytes(b"1")
        (folder / TIMESTAMP).write_text("")
        os.utime(folder / "images" / "x.png", ns=(10**18, 10**18))
        os.utime(folder / TIMESTAMP, ns=(2 * 10**18, 2 * 10**18))  # Snakemake wrote it after the job's files
    (tmp_path / "loose.png").write_bytes(b"")  # not inside a folder output: ignored
    assert refresh_folder_timestamps(tmp_path) == []  # nothing changed since the jobs ended
    assert _mtime(chunk / TIMESTAMP) == 2 * 10**18
    restored = chunk / "images" / "x.png"
    os.utime(restored, ns=(3 * 10**18, 3 * 10**18))  # a file replaced (or restored) after the job
    assert refresh_folder_timestamps(tmp_path) == [str(chunk)]
    assert _mtime(chunk / TIMESTAMP) == 3 * 10**18 and _mtime(other / TIMESTAMP) == 2 * 10**18
    assert refresh_folder_timestamps(tmp_path) == []  # idempotent
