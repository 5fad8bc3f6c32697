"""Fetching model files: from an asset mirror or the pinned upstream URL, verified by sha256.

Every file is first written to a temporary file in the destination directory, its sha256 checked,
and only then renamed (``os.replace``) to its final name: an interrupted or corrupted download never
leaves a file under the final name. Decoder models also get their decoder-stripped twin
(``entry.derived``) plus a ``cache/<derived>.sha256`` sidecar recording its hash and its source's hash,
so loading can verify derived files too.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import urllib.request
from collections.abc import Iterable
from pathlib import Path

from kiosk.assets.manifest import Manifest, ModelEntry, load_manifest
from kiosk.core import paths
from kiosk.core.checksum import sha256_file
from kiosk.core.safefile import FileRefused, read_bytes

log = logging.getLogger(__name__)

_CHUNK = 1 << 16


class FetchError(RuntimeError):
    """A model file could not be obtained."""


class ChecksumError(FetchError):
    """A file's sha256 does not match the manifest: it is refused."""


class ModelNotFoundError(FileNotFoundError):
    """A model file is not in the models directory."""


def _tempfile(dest: Path) -> tuple[int, Path]:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    return fd, Path(tmp)


def _install(chunks: Iterable[bytes], dest: Path, sha256: str, source: str) -> Path:
    """Write chunks to a temp file beside dest, verify sha256, then rename onto dest."""
    fd, tmp = _tempfile(dest)
    h = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as f:
            for chunk in chunks:
                h.update(chunk)
                f.write(chunk)
        got = h.hexdigest()
        if got != sha256:
            raise ChecksumError(
                f"{source}: sha256 {got} does not match the manifest's {sha256}; "
                f"refusing it (nothing written to {dest}). Check the mirror/URL and fetch again."
            )
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dest


def _file_chunks(path: Path) -> Iterable[bytes]:
    with open(path, "rb") as f:
        while block := f.read(_CHUNK):
            yield block


def _url_chunks(url: str, timeout: float) -> Iterable[bytes]:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        while block := resp.read(_CHUNK):
            yield block


def download(url: str, dest: Path, sha256: str, timeout: float = 60.0) -> Path:
    """Download url to dest, verified by sha256 (atomic; raises FetchError/ChecksumError)."""
    try:
        return _install(_url_chunks(url, timeout), dest, sha256, url)
    except ChecksumError:
        raise
    except Exception as exc:
        raise FetchError(
            f"download of {url} failed: {exc}; nothing written to {dest}. Check the network, or "
            "copy from a local mirror with --mirror DIR (or KIOSK_ASSET_MIRROR)"
        ) from exc


def find_in_mirror(mirror: Path, file_name: str) -> Path | None:
    """Look a file up by name in a mirror directory: mirror/models/<file> or mirror/<file>."""
    for candidate in (mirror / "models" / file_name, mirror / file_name):
        if candidate.is_file():
            return candidate
    return None


def _is_current(path: Path, entry_sha: str, size: int | None = None) -> bool:
    if not path.is_file():
        return False
    if size is not None and path.stat().st_size != size:
        return False
    return sha256_file(path) == entry_sha


def fetch_entry(entry: ModelEntry, dest: Path, mirror: Path | None = None) -> Path:
    """Make dest/<entry.file> present and verified; returns its path."""
    final = dest / entry.file
    if _is_current(final, entry.sha256, entry.bytes):
        log.debug("%s already present and verified", final)
        return final
    if mirror is not None:
        found = find_in_mirror(mirror, entry.file)
        if found is not None:
            log.info("copying %s from the mirror %s", entry.file, mirror)
            return _install(_file_chunks(found), final, entry.sha256, str(found))
        log.warning("%s is not in the mirror %s; downloading it", entry.file, mirror)
    log.info("downloading %s", entry.url)
    return download(entry.url, final, entry.sha256)


def _sidecar(derived: Path) -> Path:
    # kept under cache/ (git-ignored in the checkout's models/ directory)
    return derived.parent / "cache" / (derived.name + ".sha256")


def read_sidecar(derived: Path) -> tuple[str, str] | None:
    """(derived sha256, source sha256) recorded when the derived file was written, if any."""
    try:
        fields = read_bytes(_sidecar(derived), max_bytes=4096).decode("utf-8").split()
    except (OSError, FileRefused, UnicodeDecodeError):
        return None
    if len(fields) < 4 or fields[2] != "source":
        return None
    return fields[0], fields[3]


def derive_entry(entry: ModelEntry, dest: Path) -> Path | None:
    """For decoder models: write the decoder-stripped file and its sidecar. Returns its path."""
    if entry.derived is None:
        return None
    from kiosk.assets.tflite_edit import strip_decoder

    src = dest / entry.file
    derived = dest / entry.derived
    recorded = read_sidecar(derived)
    if recorded and recorded[1] == entry.sha256 and _is_current(derived, recorded[0]):
        return derived
    strip_decoder(src, derived)
    fd, tmp = _tempfile(_sidecar(derived))
    with os.fdopen(fd, "w") as f:
        f.write(f"{sha256_file(derived)}  {derived.name}\nsource {entry.sha256}  {entry.file}\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, _sidecar(derived))
    log.info("wrote %s (PosenetDecoderOp stripped)", derived)
    return derived


def fetch_models(
    dest: Path | None = None,
    mirror: Path | None = None,
    names: Iterable[str] | None = None,
    *,
    manifest: Manifest | None = None,
) -> list[Path]:
    """Fetch manifest models into dest (default: kiosk.core.paths.models_dir()).

    mirror: a local directory to copy from (default: $KIOSK_ASSET_MIRROR; None there = download).
    names:  logical model names (default: all). Both variants (cpu, edgetpu) of each are fetched.
    Returns the paths written or verified: upstream files and derived (decoder-stripped) files.
    """
    manifest = manifest or load_manifest()
    dest = Path(dest) if dest is not None else paths.models_dir()
    mirror = Path(mirror) if mirror is not None else paths.asset_mirror()
    wanted = list(names) if names else manifest.names()
    for name in wanted:
        manifest.variants(name)  # unknown names fail before anything is fetched
    out: list[Path] = []
    for entry in manifest.entries:
        if entry.name not in wanted:
            continue
        out.append(fetch_entry(entry, dest, mirror))
        derived = derive_entry(entry, dest)
        if derived is not None:
            out.append(derived)
    return out


def verified_model_file(entry: ModelEntry, models_dir: Path | None = None) -> tuple[Path, str]:
    """The file to load for entry, checked against its sha256. Returns (path, sha256).

    Raises ModelNotFoundError (saying how to fetch it) or ChecksumError (refusing to load).
    """
    models_dir = Path(models_dir) if models_dir is not None else paths.models_dir()
    path = models_dir / entry.load_file
    fetch_hint = f"run `kiosk models fetch {entry.name}` (models directory: {models_dir})"
    if not path.is_file():
        raise ModelNotFoundError(f"model file {path} is missing: {fetch_hint}")
    if entry.derived is None:
        expected = entry.sha256
    else:
        recorded = read_sidecar(path)
        if recorded is None or recorded[1] != entry.sha256:
            raise ChecksumError(f"{path} has no valid checksum record; refusing to load it: {fetch_hint}")
        expected = recorded[0]
    got = sha256_file(path)
    if got != expected:
        raise ChecksumError(
            f"{path}: sha256 {got} does not match {expected}; refusing to load it. "
            f"Delete it and re-fetch: {fetch_hint}"
        )
    return path, got
