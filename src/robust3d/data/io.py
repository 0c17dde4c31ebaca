"""Atomic writes (a killed job never leaves a file that looks complete: temp file, then rename) and readers whose
errors name the file and say what is wrong with it (:class:`robust3d.errors.InputError`)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from robust3d.errors import InputError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: Temp files and folders are private (0600 / 0700); outputs get the modes a plain write would give them.
_UMASK = _umask()
FILE_MODE, DIR_MODE = 0o666 & ~_UMASK, 0o777 & ~_UMASK


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix or path.suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield a temporary folder next to ``path``; it replaces ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}."))
    try:
        yield tmp
        os.chmod(tmp, DIR_MODE)
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def write_image(path: str | Path, rgb: np.ndarray) -> None:
    """RGB uint8 ``(H, W, 3)`` or single-channel ``(H, W)`` to PNG/JPEG."""
    img = rgb[..., ::-1] if rgb.ndim == 3 else rgb
    with atomic_path(path) as tmp:
        if not cv2.imwrite(str(tmp), np.ascontiguousarray(img)):
            raise OSError(f"could not write image {path}")


def write_mask(path: str | Path, mask: np.ndarray) -> None:
    """Single-channel PNG, 255 inside (the contract: nonzero = inside)."""
    write_image(path, (np.asarray(mask) > 0).astype(np.uint8) * 255)


def read_image(path: str | Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """RGB uint8 ``(H, W, 3)``; ``size`` ``(H, W)``: the shape the caller expects, anything else is an error."""
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise FileNotFoundError(f"cannot read image {path}" + ("" if Path(path).is_file() else " (no such file)"))
    _check_size(path, img.shape[:2], size)
    return img[..., ::-1].copy()


def read_mask(path: str | Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """Boolean ``(H, W)`` mask (nonzero = inside); ``size`` as :func:`read_image`."""
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise FileNotFoundError(f"cannot read mask {path}" + ("" if Path(path).is_file() else " (no such file)"))
    _check_size(path, img.shape[:2], size)
    return img > 0


def _check_size(path: str | Path, shape: tuple[int, ...], size: tuple[int, int] | None) -> None:
    if size is not None and tuple(shape) != tuple(size):
        raise InputError(f"{path}: image is {shape[0]}x{shape[1]} px (HxW), expected {size[0]}x{size[1]}")


def _unreadable(path: str | Path, kind: str, err: BaseException) -> InputError:
    """One line for a file that exists but cannot be parsed; numpy's advice to allow pickles is not passed on."""
    reason = str(err).splitlines()[0] if str(err) else type(err).__name__
    if "allow_pickle" in reason:
        reason = "it holds pickled Python objects, which robust3d never loads"
    return InputError(f"{path}: not a readable {kind} file ({reason})")


def _must_exist(path: str | Path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    return path


def read_npy(path: str | Path) -> np.ndarray:
    """An array saved with ``np.save`` (no pickles)."""
    path = _must_exist(path)
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:
        raise _unreadable(path, ".npy", err) from None


def read_npz(path: str | Path) -> dict[str, np.ndarray]:
    """Every array of an ``np.savez`` archive, loaded now (no pickles)."""
    path = _must_exist(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise ValueError("a single array, not an .npz archive")
            return {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as err:
        raise _unreadable(path, ".npz", err) from None


def read_json(path: str | Path) -> Any:
    path = _must_exist(path)
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise _unreadable(path, "JSON", err) from None


def read_yaml(path: str | Path) -> Any:
    """A YAML file; a syntax error says where (line and column) in one line."""
    import yaml

    path = _must_exist(path)
    try:
        return yaml.safe_load(path.read_text())
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        raise InputError(f"{path}: not valid YAML ({where}{err.problem or err.context})") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise _unreadable(path, "YAML", err) from None


def write_npy(path: str | Path, array: np.ndarray) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.save(f, array)


def write_npz(path: str | Path, **arrays) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)


def write_json(path: str | Path, data: dict) -> None:
    """JSON written atomically (indent 1; numpy scalars as floats)."""
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(data, indent=1, default=float))
