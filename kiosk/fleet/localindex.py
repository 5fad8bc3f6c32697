"""The index to deploy, checked on the workstation before any host is contacted, the model
files it needs (from this machine's models directory, verified by sha256) and the config deployed
with it (validated by the kiosk's own validator)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from kiosk.gallery.releaselayout import ID_RE


class BadIndex(ValueError):
    """INDEX_DIR cannot be deployed; the message says why and what to do."""


@dataclass(frozen=True)
class LocalModel:
    name: str
    sha256: str
    root: Path                # the models directory the files are relative to
    files: tuple[str, ...]


@dataclass(frozen=True)
class LocalConfig:
    path: Path
    sha256: str


@dataclass(frozen=True)
class LocalIndex:
    path: Path
    id: str
    bytes: int
    model: LocalModel | None
    config: LocalConfig | None = None

    def files(self) -> list[str]:
        """Every file, relative, sorted (what an upload sends)."""
        out = []
        for dirpath, _dirs, names in os.walk(self.path):
            for name in names:
                out.append(os.path.relpath(os.path.join(dirpath, name), self.path))
        return sorted(out)


def _model(manifest: dict, models_dir: Path | None, need_model: bool) -> LocalModel | None:
    from kiosk.core import paths
    from kiosk.gallery.delivery import DeliveryError, find_model

    info = manifest.get("model") or {}
    name, sha = info.get("name"), info.get("sha256")
    if not need_model or not name or not sha:
        return None
    root = models_dir or paths.models_dir()
    try:
        found = find_model(str(name), str(sha), root)
    except DeliveryError as exc:
        raise BadIndex(str(exc)) from exc
    if found is None:
        raise BadIndex(f"the index was built with model {name} (sha256 {str(sha)[:12]}…), which is not in "
                       f"{root}: fetch it (kiosk models fetch {name}) or use --no-model")
    return LocalModel(name=str(name), sha256=str(sha), root=root, files=found.files)


def load_local_index(path: Path, *, verify: bool = True, need_model: bool = True,
                     models_dir: Path | None = None) -> LocalIndex:
    """Check INDEX_DIR (exists, an index, a safe id, verifies) and find its model."""
    if not path.is_dir():
        raise BadIndex(f"INDEX_DIR {path} is not a directory")
    path = path.resolve()
    try:
        manifest = json.loads((path / "manifest.json").read_text())
    except FileNotFoundError:
        raise BadIndex(f"INDEX_DIR {path} is not an index: no manifest.json "
                       "(build one with 'kiosk index build')") from None
    except (OSError, ValueError) as exc:
        raise BadIndex(f"INDEX_DIR {path} is not an index: manifest.json unreadable ({exc})") from None
    index_id = manifest.get("index_id") if isinstance(manifest, dict) else None
    if not isinstance(index_id, str) or not index_id:
        raise BadIndex(f"INDEX_DIR {path} is not an index: manifest.json has no index_id")
    if not ID_RE.match(index_id):
        raise BadIndex(f"index id {index_id!r} has characters unsafe in a path")
    if verify:
        from kiosk.gallery.verify import problems

        found = problems(path, deep=True)
        if found:
            raise BadIndex(f"INDEX_DIR {path} fails local verification (kiosk index verify): "
                           + "; ".join(found[:3]))
    size = sum(os.lstat(os.path.join(d, n)).st_size for d, _, names in os.walk(path) for n in names)
    return LocalIndex(path=path, id=index_id, bytes=size, model=_model(manifest, models_dir, need_model))


def load_local_config(path: Path, *, verify: bool = True) -> LocalConfig:
    """The config to deploy with the index: a file the kiosk's validator accepts (unless not
    `verify`: then the kiosk's reload is the check), without the machine's own keys."""
    from kiosk.app.service.config import ConfigError, refuse_machine_keys
    from kiosk.core.checksum import sha256_file

    if not path.is_file():
        raise BadIndex(f"--config {path} is not a file")
    if verify:
        try:
            refuse_machine_keys(path)
        except ConfigError as exc:
            raise BadIndex(f"--config refused (fix the file, check it with 'kiosk config check "
                           f"{path}'): {exc}") from None
    return LocalConfig(path=path.resolve(), sha256=sha256_file(path))
