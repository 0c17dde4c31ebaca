"""Folder outputs are stamped by their files (robust3d.data.tracking), so a file changed inside one reruns jobs."""

from __future__ import annotations

import os

from robust3d.data.tracking import files_stamp


def test_the_stamp_follows_every_file_and_nothing_else(tmp_path):
    a, b = tmp_path / "chunk000", tmp_path / "chunk001"
    (a / "images").mkdir(parents=True)
    b.mkdir()
    (a / "images" / "x.png").write_bytes(b"12345")
    (b / "manifest.csv").write_text("sample_id\n")
    stamp = files_stamp([a, b])
    assert stamp == files_stamp([b, a]) and len(stamp) == 16  # order of the folders does not matter
    assert files_stamp([a, b, tmp_path / "missing"]) == stamp
    (a / ".snakemake_timestamp").write_text("")  # Snakemake's own marker is not data
    assert files_stamp([a, b]) == stamp
    st = os.stat(a / "images" / "x.png")
    os.utime(a / "images" / "x.png", ns=(st.st_atime_ns, st.st_mtime_ns + 1))  # restored: same bytes, new time
    touched = files_stamp([a, b])
    assert touched != stamp
    (a / "images" / "x.png").write_bytes(b"123456")
    assert files_stamp([a, b]) not in (stamp, touched)
    (a / "images" / "y.png").write_bytes(b"")
    assert files_stamp([a]) != files_stamp([b])
