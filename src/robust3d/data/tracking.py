"""Content stamps of folder outputs, so the workflow notices a file changed inside one.

Snakemake dates a ``directory()`` output by its own timestamp file, so replacing or restoring a file inside a chunk
or variant folder reruns nothing. Rules that read such folders carry :func:`files_stamp` as a param: with the
``params`` rerun trigger (on by default), a changed stamp reruns the job, and everything downstream follows by
modification time. The stamp covers each file's relative path, size and modification time (not its bytes: it is
computed on every ``snakemake`` call, ``-n`` included).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

#: Files Snakemake itself keeps inside directory outputs.
IGNORED = frozenset({".snakemake_timestamp"})


def files_stamp(folders: Iterable[str | Path]) -> str:
    """A short hash over every file under ``folders`` (missing folders and plain files contribute nothing)."""
    digest = hashlib.sha256()
    for folder in sorted(map(str, folders)):
        if not os.path.isdir(folder):
            continue
        digest.update(f"\0{folder}\0".encode())
        for root, dirs, files in os.walk(folder):
            dirs.sort()
            for name in sorted(files):
                if name in IGNORED:
                    continue
                path = os.path.join(root, name)
                st = os.stat(path)
                digest.update(f"{os.path.relpath(path, folder)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]
