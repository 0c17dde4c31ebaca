"""Where the real datasets come from, how to fetch them, and loud failures when they are not there.

Every failure (offline, HTTP error, gated download, wrong checksum, missing folder) raises
:class:`DatasetUnavailable` whose one-paragraph message names the file to fetch, the URL or Google-Drive
id to fetch it from and the path it must end up at, so a person can always finish the job by hand.
Nothing falls back silently to other data.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path


class DatasetUnavailable(RuntimeError):
    """Raw data is missing or cannot be fetched; the message says what to fetch, from where, and where to put it."""


class ChecksumError(DatasetUnavailable):
    """A downloaded file does not have the expected sha256."""


@dataclass(frozen=True)
class DatasetSource:
    """One downloadable file (or Google-Drive folder) of a dataset."""

    name: str
    title: str
    filename: str  # what the download is saved as inside dest_dir (a folder name for Drive folders)
    url: str | None = None
    gdrive_id: str | None = None
    gdrive_folder: bool = False
    hf_repo: str | None = None  # Hugging Face dataset repo for gated downloads
    size: int | None = None  # bytes, when known
    sha256: str | None = None  # None: recorded on first download in <dest_dir>/<name>.sha256, verified afterwards
    licence: str = ""
    homepage: str = ""
    extract_to: str = ""  # folder (relative to the data root) the archive unpacks into
    manual_steps: str = ""  # what a person does by hand (gated sources: accept terms first)

    @property
    def gated(self) -> bool:
        return self.hf_repo is not None

    @property
    def where(self) -> str:
        """Human-readable origin: URL and/or Google-Drive id."""
        if self.gdrive_id:
            kind = "folder" if self.gdrive_folder else "file"
            link = (f"https://drive.google.com/drive/folders/{self.gdrive_id}" if self.gdrive_folder
                    else f"https://drive.google.com/uc?id={self.gdrive_id}")
            return f"Google Drive {kind} id {self.gdrive_id} ({link})"
        return str(self.url)


@dataclass(frozen=True)
class RawDataset:
    """An unpacked raw dataset: its folder name, the sub-folders a converter needs, and its downloads."""

    name: str
    title: str
    dirname: str
    required: tuple[str, ...]
    sources: tuple[str, ...]


_P3D_LICENCE = ("No licence file ships with PASCAL3D+; its images come from PASCAL VOC (Flickr terms) and ImageNet "
                "(ImageNet terms of access: non-commercial research and education only).")
_OCC_LICENCE = ("Derived from PASCAL3D+ ImageNet images (ImageNet terms of access) with MS-COCO occluders (COCO "
                "annotations CC BY 4.0, images under Flickr terms); research use.")
_OODCV_LICENCE = "No licence is stated in the data repositories; images are collected from the web, research use only."
_HF_IMAGENET3D = "https://huggingface.co/datasets/ccvl/ImageNet3D"


def _occluded_source(level: int, drive_id: str) -> DatasetSource:
    return DatasetSource(
        name=f"occluded_pascal3d_l{level}", title=f"OccludedPASCAL3D+ FGL{level}_BGL{level}",
        filename=f"OccludedPASCAL3D_FGL{level}_BGL{level}.zip", gdrive_id=drive_id, licence=_OCC_LICENCE,
        homepage="https://github.com/Angtian/OccludedPASCAL3D", extract_to="OccludedPASCAL3D",
        manual_steps="Angtian/OccludedPASCAL3D's download_FG.sh fetches the same three zips.",
    )


SOURCES: dict[str, DatasetSource] = {s.name: s for s in (
    DatasetSource(
        name="pascal3d", title="PASCAL3D+ release 1.1", filename="PASCAL3D+_release1.1.zip",
        url="ftp://cs.stanford.edu/cs/cvgl/PASCAL3D+_release1.1.zip", licence=_P3D_LICENCE,
        homepage="https://cvgl.stanford.edu/projects/pascal3d.html", extract_to="",
        manual_steps="The archive is several GB; it unpacks to PASCAL3D+_release1.1/.",
    ),
    DatasetSource(
        name="pascal3d_nemo_subsets", title="NeMo's PASCAL3D+ Image_subsets", filename="Image_subsets.zip",
        gdrive_id="1NsoVXW8ngQCqTHHFSW8YYsCim9EjiXS7", licence="Distributed with NeMo (github.com/Angtian/NeMo).",
        homepage="https://github.com/Angtian/NeMo", extract_to="PASCAL3D+_release1.1",
        manual_steps="NeMo's PrepareData.sh moves the unpacked Image_subsets/ into PASCAL3D+_release1.1/.",
    ),
    _occluded_source(1, "1X-xwyypLTm9vr-boLYPIPhGxcYaPHSNF"),
    _occluded_source(2, "1dNP8YE3RJ9Pzr_jQ11O6f6eYgYnq9ROp"),
    _occluded_source(3, "1GsHCyAYnqcJsAgiih1vKpDQxzF3ouFxS"),
    DatasetSource(
        name="occluder_library", title="OccludedPASCAL3D+ occluder library (MS-COCO crops)",
        filename="OccludedLibs.zip", gdrive_id="1DgBs8liddu0sf4PNcEKKkxjR-EqnOHY5", licence=_OCC_LICENCE,
        homepage="https://github.com/Angtian/OccludedPASCAL3D", extract_to="occluder_libs",
        manual_steps="Only needed to re-create occluded sets (code/download_occluder_lib.sh).",
    ),
    DatasetSource(
        name="pascal3d_object_masks", title="PASCAL3D+ object masks used by OccludedPASCAL3D+",
        filename="obj_mask.zip", gdrive_id="1rPI5amHBEw3E3WrzS871eBHVs3PizURD", licence=_OCC_LICENCE,
        homepage="https://github.com/Angtian/OccludedPASCAL3D", extract_to="PASCAL3D+_release1.1",
        manual_steps="Only needed to re-create occluded sets (CreateOccludedDataset.py reads "
                     "PASCAL3D+_release1.1/obj_mask).",
    ),
    DatasetSource(
        name="oodcv_pose", title="OOD-CV (v1) pose data", filename="pose.zip",
        gdrive_id="1djm2ugmk98__9jgL8Sqb_QUIIpC7e1ir", licence=_OODCV_LICENCE,
        homepage="https://github.com/OOD-CV/OOD-CV-Pose", extract_to="",
        manual_steps="Same as `gdown https://drive.google.com/file/d/1djm2ugmk98__9jgL8Sqb_QUIIpC7e1ir/view --fuzzy`; "
                     "the zip unpacks to ood_cv/.",
    ),
    DatasetSource(
        name="oodcv_v2", title="OOD-CV v2 / ROBIN challenge data", filename="ROBINv1.1",
        gdrive_id="1eCzhLJn9tNFDgrsHJrXzOBchpkIIC07a", gdrive_folder=True, licence=_OODCV_LICENCE,
        homepage="https://github.com/OOD-CV/OOD-CV", extract_to="",
        manual_steps="Download the whole Drive folder (`gdown --folder <link>`); unzip any archives inside so that "
                     "ROBINv1.1/ holds train/, iid_test/ and nuisances/<nuisance>/, each with its CSV.",
    ),
    DatasetSource(
        name="imagenet3d", title="ImageNet3D v1.0", filename="imagenet3d_v1.zip",
        url=f"{_HF_IMAGENET3D}/resolve/main/imagenet3d_v1.zip", hf_repo="ccvl/ImageNet3D",
        licence="CC BY-NC 4.0 (gated on Hugging Face: name and affiliation required).",
        homepage="https://wufeim.github.io/imagenet3d/", extract_to="",
        manual_steps=(
            f"ImageNet3D is gated: log in at huggingface.co, open {_HF_IMAGENET3D} and accept its terms, create a "
            "read token at https://huggingface.co/settings/tokens, then either run `huggingface-cli login` and "
            "`huggingface-cli download ccvl/ImageNet3D imagenet3d_v1.zip --repo-type dataset --local-dir <dir>` "
            "(`hf download ...` with the same arguments on huggingface_hub >= 1.0), or "
            "`wget --header=\"Authorization: Bearer $HF_TOKEN\" "
            f"{_HF_IMAGENET3D}/resolve/main/imagenet3d_v1.zip -O <dir>/imagenet3d_v1.zip`; with HF_TOKEN set "
            "robust3d downloads it itself."
        ),
    ),
)}

RAW_DATASETS: dict[str, RawDataset] = {r.name: r for r in (
    RawDataset("pascal3d", "PASCAL3D+ release 1.1", "PASCAL3D+_release1.1",
               ("Annotations", "Images", "CAD", "Image_sets"), ("pascal3d",)),
    RawDataset("occluded_pascal3d", "OccludedPASCAL3D+", "OccludedPASCAL3D", ("images", "annotations", "lists"),
               ("occluded_pascal3d_l1", "occluded_pascal3d_l2", "occluded_pascal3d_l3")),
    RawDataset("oodcv", "OOD-CV (v1) pose data", "ood_cv", ("images", "annotations", "lists"), ("oodcv_pose",)),
    RawDataset("oodcv_v2", "OOD-CV v2 / ROBIN", "ROBINv1.1", ("train", "iid_test", "nuisances"), ("oodcv_v2",)),
    RawDataset("imagenet3d", "ImageNet3D", "imagenet3d", ("images", "annotations", "lists", "CAD"), ("imagenet3d",)),
)}


def get_source(source: DatasetSource | str) -> DatasetSource:
    if isinstance(source, DatasetSource):
        return source
    if source not in SOURCES:
        raise KeyError(f"unknown dataset source {source!r}; known: {', '.join(SOURCES)}")
    return SOURCES[source]


def _fetch_message(source: DatasetSource, target: Path, reason: str, unpack_to: Path | None = None) -> str:
    size = f" (about {source.size / 1e9:.1f} GB)" if source.size else ""
    unpack = f", then unpack it into {unpack_to}" if unpack_to is not None else ""
    return (f"{source.title} is unavailable: {reason}. Fetch {source.filename}{size} from {source.where} "
            f"and save it as {target}{unpack}. {source.manual_steps} Homepage: {source.homepage}. "
            f"Licence: {source.licence}").strip()


# ---------------------------------------------------------------------------------------------- checksums

def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_sha256(source: DatasetSource, path: Path, dest_dir: Path) -> str:
    """Check ``path`` against the registry's sha256, or the one recorded on first download (recording it if none).

    The first download is trusted (the publishers give no checksums); every later use is compared with it, so a
    truncated re-download or a swapped file is caught.
    """
    actual = sha256_file(path)
    record = dest_dir / f"{source.name}.sha256"
    expected, origin = source.sha256, "the registry"
    if expected is None and record.exists():
        expected, origin = record.read_text().split()[0], f"recorded in {record} on first download"
    if expected is None:
        record.write_text(f"{actual}  {path.name}\n")
        return actual
    if actual != expected:
        raise ChecksumError(
            f"{source.title} is unavailable: {path} has sha256 {actual} but {expected} was expected ({origin}). "
            f"Delete {path} (and {record} if the recorded value is the wrong one), then fetch {source.filename} "
            f"again from {source.where} and save it as {path}.")
    return actual


# ---------------------------------------------------------------------------------------------- downloads

def download(source: DatasetSource | str, dest_dir: str | Path, timeout: float = 60.0, retries: int = 3,
              backoff: float = 2.0, unpack_to: str | Path | None = None) -> Path:
    """Download ``source`` into ``dest_dir`` (resumable for HTTP), verify its sha256, return its path.

    An existing file is only verified. Raises :class:`DatasetUnavailable` on any failure; ``unpack_to`` (where
    the archive will be unpacked) only completes that message.
    """
    source = get_source(source)
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / source.filename
    if not target.exists():
        fail = _Failure(source, target, None if unpack_to is None else Path(unpack_to))
        if source.gated:
            _download_huggingface(source, target, fail)
        elif source.gdrive_id:
            _download_gdrive(source, target, fail)
        else:
            _download_http(source, target, timeout, retries, backoff, fail)
    if target.is_file():
        verify_sha256(source, target, dest_dir)
    return target


@dataclass(frozen=True)
class _Failure:
    """Builds the DatasetUnavailable of one download attempt."""

    source: DatasetSource
    target: Path
    unpack_to: Path | None

    def __call__(self, reason: str) -> DatasetUnavailable:
        return DatasetUnavailable(_fetch_message(self.source, self.target, reason, self.unpack_to))


def _download_http(source: DatasetSource, target: Path, timeout: float, retries: int, backoff: float,
                   fail: _Failure) -> None:
    part = target.with_name(target.name + ".part")
    reason = "no attempt made"
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(backoff * 2 ** (attempt - 1))
        try:
            _http_once(source, part, timeout, fail)
            os.replace(part, target)
            return
        except urllib.error.HTTPError as err:
            reason = f"HTTP {err.code} {err.reason} for {source.url}"
            if err.code == 416 and part.exists():  # our .part is longer than the file: start over
                part.unlink()
            elif err.code in (401, 403, 404, 410):
                break
        except (urllib.error.URLError, http.client.HTTPException, OSError) as err:
            reason = f"{type(err).__name__}: {getattr(err, 'reason', err)} while fetching {source.url}"
    raise fail(f"{reason} (after {attempt + 1} attempt(s))")


def _http_once(source: DatasetSource, part: Path, timeout: float, fail: _Failure) -> None:
    """One attempt: continue ``part`` with a Range request when the server supports it."""
    start = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(str(source.url), headers={"User-Agent": "robust3d-dataset-fetch"})
    if start and str(source.url).startswith("http"):
        request.add_header("Range", f"bytes={start}-")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        status = getattr(response, "status", None) or response.getcode()
        if status != 206:
            start = 0  # the server ignored the range (or FTP): start again
        if "text/html" in (response.headers.get("Content-Type") or "") and not source.filename.endswith(".html"):
            raise fail(f"{source.url} answered with an HTML page instead of the file (a login, quota or "
                       "confirmation page)")
        expected = response.headers.get("Content-Length")
        with open(part, "ab" if start else "wb") as f:
            written = _copy(response, f)
    if expected is not None and written != int(expected):
        raise OSError(f"connection closed after {written} of {expected} bytes")
    if source.size is not None and (size := part.stat().st_size) != source.size:
        if size > source.size:
            part.unlink()  # cannot be resumed into the right file
        raise OSError(f"{part} has {size} bytes, expected {source.size}")


def _copy(response, f, chunk: int = 1 << 20) -> int:
    n = 0
    while block := response.read(chunk):
        f.write(block)
        n += len(block)
    return n


def _download_gdrive(source: DatasetSource, target: Path, fail: _Failure) -> None:
    try:
        import gdown
    except ImportError:
        raise fail("the Python package gdown, which downloads from Google Drive, is not installed "
                   "(`pip install gdown`, or fetch it by hand)") from None
    try:
        if source.gdrive_folder:
            result = gdown.download_folder(id=source.gdrive_id, output=str(target), quiet=False)
        else:
            result = gdown.download(id=source.gdrive_id, output=str(target), quiet=False, resume=True)
    except Exception as err:  # gdown raises many kinds (quota, permission, network): all mean "not fetched"
        raise fail(f"gdown failed ({type(err).__name__}: {err})") from err
    if not result or not target.exists():
        raise fail("gdown returned without the file")


def _download_huggingface(source: DatasetSource, target: Path, fail: _Failure) -> None:
    try:
        import huggingface_hub
    except ImportError:
        raise fail("the dataset is gated and huggingface_hub, which can fetch it with a token, is not installed") \
            from None
    token = os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN") or huggingface_hub.get_token()
    if not token:
        raise fail("the dataset is gated and no Hugging Face token was found (HF_TOKEN or `huggingface-cli login`)")
    try:
        path = Path(huggingface_hub.hf_hub_download(repo_id=str(source.hf_repo), filename=source.filename,
                                                    repo_type="dataset", local_dir=target.parent, token=token))
    except Exception as err:  # gated (401/403), offline, not found: all mean "do the manual steps"
        raise fail(f"the gated Hugging Face download failed ({type(err).__name__}: {err})") from err
    if path.resolve() != target.resolve():
        os.replace(path, target)


# ---------------------------------------------------------------------------------------------- unpacking

def extract_archive(archive: str | Path, dest: str | Path) -> Path:
    """Unpack a zip or tar archive into ``dest`` via a temporary folder, merging with what is already there.

    Unpacking to a temporary folder first means an interrupted extraction never leaves a tree that passes
    :func:`require_raw`.
    """
    archive, dest = Path(archive), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest, prefix=".extract-") as tmp:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                for member in zf.namelist():
                    if Path(member).is_absolute() or ".." in Path(member).parts:
                        raise DatasetUnavailable(f"{archive} contains the unsafe path {member!r}; not unpacking it")
                zf.extractall(tmp)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tf:
                tf.extractall(tmp, filter="data")
        else:
            raise DatasetUnavailable(f"{archive} is neither a zip nor a tar archive; delete it and download it again")
        _merge_tree(Path(tmp), dest)
    return dest


def _merge_tree(src: Path, dst: Path) -> None:
    for entry in src.iterdir():
        target = dst / entry.name
        if entry.is_dir() and target.is_dir():
            _merge_tree(entry, target)
        else:
            if target.exists():
                shutil.rmtree(target) if target.is_dir() else target.unlink()
            os.replace(entry, target)


# ---------------------------------------------------------------------------------------------- raw folders

def require_raw(name: str, root: str | Path) -> Path:
    """The unpacked raw dataset folder (``root`` itself or ``root/<dirname>``), checked for its sub-folders."""
    if name not in RAW_DATASETS:
        raise KeyError(f"unknown raw dataset {name!r}; known: {', '.join(RAW_DATASETS)}")
    raw, root = RAW_DATASETS[name], Path(root)
    for candidate in (root, root / raw.dirname):
        if candidate.is_dir() and all((candidate / sub).exists() for sub in raw.required):
            return candidate
    expected = root if root.name == raw.dirname else root / raw.dirname
    missing = [s for s in raw.required if not (expected / s).exists()]
    sources = [SOURCES[s] for s in raw.sources]
    fetch = "; ".join(f"{s.filename} from {s.where}" for s in sources)
    manual = " ".join(dict.fromkeys(s.manual_steps for s in sources if s.manual_steps))
    raise DatasetUnavailable(
        f"{raw.title} is not available: the folder {expected} must contain {', '.join(raw.required)} "
        f"(missing: {', '.join(missing)}). Fetch {fetch}, and unpack into {expected.parent} so that "
        f"{expected / raw.required[0]} exists. {manual} When the machine is online, "
        f"robust3d.data.datasets.fetch({name!r}, {str(expected.parent)!r}) does this. "
        f"Licence: {sources[0].licence}")


def missing_file(path: str | Path, source: str, what: str = "the file") -> DatasetUnavailable:
    """The error for a file that an otherwise present raw dataset lacks (an incomplete or partial download)."""
    src = SOURCES[source]
    return DatasetUnavailable(
        f"{src.title} is incomplete: {what} {path} does not exist. Fetch {src.filename} from {src.where} and unpack "
        f"it so that this file exists (the archive unpacks into the data root's "
        f"{src.extract_to or '.'} folder). {src.manual_steps}")


def fetch(name: str, root: str | Path, timeout: float = 60.0) -> Path:
    """Download and unpack a raw dataset under ``root`` unless it is already there; returns its folder."""
    root = Path(root)
    try:
        return require_raw(name, root)
    except DatasetUnavailable:
        pass
    for source in (SOURCES[s] for s in RAW_DATASETS[name].sources):
        path = download(source, root / "downloads", timeout=timeout, unpack_to=root / source.extract_to)
        if path.is_file():
            extract_archive(path, root / source.extract_to)
        elif source.gdrive_folder and not (root / source.filename).exists():
            shutil.move(path, root / source.filename)
    return require_raw(name, root)
