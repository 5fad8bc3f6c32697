"""Manifest, fetching from the mirror / a URL (sha256-verified, atomic) and load-time checks."""

from __future__ import annotations

import http.server
import shutil
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from kiosk.assets.fetch import (
    ChecksumError,
    FetchError,
    ModelNotFoundError,
    fetch_models,
    verified_model_file,
)
from kiosk.assets.manifest import Manifest, load_manifest
from kiosk.core.checksum import sha256_file

REQUIRED = {
    "movenet-lightning",
    "posenet-353x481",
    "posenet-481x641",
    "posenet-721x1281",
    "posenet-353x481-components",
    "posenet-481x641-components",
    "posenet-721x1281-components",
}


def _no_leftovers(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


def test_manifest_covers_every_shared_model(shared_dir: Path) -> None:
    manifest = load_manifest()
    assert REQUIRED <= set(manifest.names())
    assert manifest.default == "posenet-481x641"
    files = {e.file: e for e in manifest.entries}
    shared = sorted(p.name for p in (shared_dir / "models").glob("*.tflite"))
    assert sorted(files) == shared
    for name in shared:
        e = files[name]
        path = shared_dir / "models" / name
        assert e.sha256 == sha256_file(path), name
        assert e.bytes == path.stat().st_size
        assert e.url.startswith("https://github.com/google-coral/") and "/raw/" in e.url
        assert e.variant == ("edgetpu" if "_edgetpu" in name else "cpu")
        assert (e.derived is not None) == ("_decoder" in name)
    assert manifest.get("posenet-481x641", "edgetpu").file.endswith("_decoder_edgetpu.tflite")
    assert manifest.get("posenet-481x641-components").kind == "components"
    assert manifest.get("movenet-lightning").input_size == (192, 192)


def test_fetched_models_verify_on_load(models_dir: Path) -> None:
    manifest = load_manifest()
    for e in manifest.entries:
        path, sha = verified_model_file(e, models_dir)
        assert path.name == e.load_file
        assert sha == sha256_file(path)
    # nothing but final files and checksum sidecars
    assert not [p for p in models_dir.iterdir() if p.name.startswith(".")]


def test_fetch_is_idempotent(models_dir: Path, shared_dir: Path) -> None:
    before = {p.name: p.stat().st_mtime_ns for p in models_dir.iterdir()}
    fetch_models(models_dir, mirror=shared_dir, names=["posenet-481x641"])
    after = {p.name: p.stat().st_mtime_ns for p in models_dir.iterdir()}
    assert before == after


def test_corrupted_mirror_file_is_refused(shared_dir: Path, tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    (mirror / "models").mkdir(parents=True)
    name = "movenet_single_pose_lightning_ptq.tflite"
    data = bytearray((shared_dir / "models" / name).read_bytes())
    data[1000] ^= 0xFF
    (mirror / "models" / name).write_bytes(bytes(data))
    dest = tmp_path / "dest"
    with pytest.raises(ChecksumError, match="refusing"):
        fetch_models(dest, mirror=mirror, names=["movenet-lightning"])
    assert _no_leftovers(dest) == []


def test_mirror_file_found_at_top_level(shared_dir: Path, tmp_path: Path) -> None:
    mirror = tmp_path / "flat"
    mirror.mkdir()
    for e in load_manifest().variants("movenet-lightning").values():
        shutil.copy(shared_dir / "models" / e.file, mirror / e.file)
    paths = fetch_models(tmp_path / "dest", mirror=mirror, names=["movenet-lightning"])
    assert [p.name for p in paths] == [
        e.file for e in load_manifest().entries if e.name == "movenet-lightning"
    ]


def test_unknown_name_fails_before_fetching(tmp_path: Path, shared_dir: Path) -> None:
    with pytest.raises(ValueError, match="unknown model 'nope'"):
        fetch_models(tmp_path / "d", mirror=shared_dir, names=["nope"])
    assert not (tmp_path / "d").exists()


class _Handler(http.server.BaseHTTPRequestHandler):
    payload: bytes = b""
    declared: int = 0

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(self.declared))
        self.end_headers()
        self.wfile.write(self.payload)
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def http_server() -> Iterator[tuple[str, type[_Handler]]]:
    handler = type("H", (_Handler,), {})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


def _one_entry_manifest(shared_dir: Path, url: str) -> Manifest:
    entry = load_manifest().get("movenet-lightning", "cpu")
    return Manifest(entries=(replace(entry, url=url),), default=entry.name)


@pytest.mark.parametrize("declared_full", [True, False])
def test_interrupted_download_leaves_nothing(
    shared_dir: Path,
    tmp_path: Path,
    http_server: tuple[str, type[_Handler]],
    monkeypatch: pytest.MonkeyPatch,
    declared_full: bool,
) -> None:
    """A truncated body (connection cut short, or a short file) never lands under the final name."""
    monkeypatch.delenv("KIOSK_ASSET_MIRROR", raising=False)
    base, handler = http_server
    data = (shared_dir / "models" / "movenet_single_pose_lightning_ptq.tflite").read_bytes()
    handler.payload = data[: len(data) // 2]
    handler.declared = len(data) if declared_full else len(data) // 2
    manifest = _one_entry_manifest(shared_dir, f"{base}/movenet.tflite")
    dest = tmp_path / "dest"
    with pytest.raises(FetchError):
        fetch_models(dest, manifest=manifest)
    assert _no_leftovers(dest) == []


def test_download_over_http_verifies_and_installs(
    shared_dir: Path,
    tmp_path: Path,
    http_server: tuple[str, type[_Handler]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("KIOSK_ASSET_MIRROR", raising=False)
    base, handler = http_server
    data = (shared_dir / "models" / "movenet_single_pose_lightning_ptq.tflite").read_bytes()
    handler.payload, handler.declared = data, len(data)
    manifest = _one_entry_manifest(shared_dir, f"{base}/movenet.tflite")
    [path] = fetch_models(tmp_path, manifest=manifest)
    assert path.read_bytes() == data
    assert _no_leftovers(tmp_path) == [path.name]


def test_bad_file_url_leaves_nothing(
    shared_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KIOSK_ASSET_MIRROR", raising=False)
    bad = tmp_path / "short.tflite"
    bad.write_bytes(b"TFL3 not really")
    manifest = _one_entry_manifest(shared_dir, bad.as_uri())
    dest = tmp_path / "dest"
    with pytest.raises(ChecksumError):
        fetch_models(dest, manifest=manifest)
    assert _no_leftovers(dest) == []


def test_load_refuses_checksum_mismatch_and_names_fetch(models_dir: Path, tmp_path: Path) -> None:
    manifest = load_manifest()
    for name in ("movenet-lightning", "posenet-481x641"):
        entry = manifest.get(name)
        src, _ = verified_model_file(entry, models_dir)
        d = tmp_path / name
        d.mkdir()
        shutil.copy(models_dir / entry.load_file, d / entry.load_file)
        if entry.derived:
            shutil.copytree(models_dir / "cache", d / "cache")
            verified_model_file(entry, d)  # intact copy (with its checksum record) loads
        data = bytearray((d / entry.load_file).read_bytes())
        data[-10] ^= 0x01
        (d / entry.load_file).write_bytes(bytes(data))
        with pytest.raises(ChecksumError, match=f"does not match.*refusing to load.*fetch {name}"):
            verified_model_file(entry, d)
        assert src.is_file()
        if entry.derived:  # no checksum record: refused too
            shutil.rmtree(d / "cache")
            with pytest.raises(ChecksumError, match="no valid checksum record"):
                verified_model_file(entry, d)


def test_missing_model_says_how_to_fetch(tmp_path: Path) -> None:
    entry = load_manifest().get("posenet-481x641")
    with pytest.raises(ModelNotFoundError, match="kiosk models fetch posenet-481x641"):
        verified_model_file(entry, tmp_path)
