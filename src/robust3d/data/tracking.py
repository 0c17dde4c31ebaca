"""Folder outputs dated by their newest file, so the workflow notices a file changed inside one.

Snakemake dates a ``directory()`` output by the ``.snakemake_timestamp`` it writes inside when the job ends, so
replacing or restoring a file inside a chunk or variant folder reruns nothing. :func:`refresh_folder_timestamps`
(called by the workflow on every ``snakemake`` start, ``-n`` included) moves that timestamp up to the newest file
of the folder; Snakemake's modification-time rule then reruns everything that reads the folder.

(A param holding a stamp of the files does not work: Snakemake may evaluate it while building the DAG, before the
folder is written, and record that value, so the next call would rerun everything once.)
"""

from __future__ import annotations

import os
from pathlib import Path

#: The file Snakemake keeps inside directory outputs (its date is the folder's).
TIMESTAMP = ".snakemake_timestamp"


def _newest_file_ns(folder: str) -> int:
    newest = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            if name != TIMESTAMP:
                newest = max(newest, os.stat(os.path.join(root, name)).st_mtime_ns)
    return newest


def refresh_folder_timestamps(root: str | Path) -> list[str]:
    """Date every Snakemake folder output under ``root`` by its newest file; return the folders moved forward."""
    moved = []
    for folder, dirs, files in os.walk(root):
        if TIMESTAMP not in files:
            continue
        dirs[:] = []  # the folder output's own subfolders are covered by _newest_file_ns
        stamp = os.path.join(folder, TIMESTAMP)
        newest = _newest_file_ns(folder)
        if newest > os.stat(stamp).st_mtime_ns:
            os.utime(stamp, ns=(newest, newest))
            moved.append(folder)
    return moved
