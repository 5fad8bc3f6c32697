"""The pose model an index needs, found by name and sha256 in a models directory, and installed
there from an upload after its sha256 is checked (so a deploy brings the model with the index).

The index manifest names its model (`model.name`, `model.sha256` of the file the builder loaded);
the model manifest (models/manifest.yaml) says which file of that name is loaded, and, for
derived files, the checksum sidecar that must travel with it.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from kiosk.assets.fetch import FetchError, ModelNotFoundError, verified_model_file
from kiosk.assets.manifest import ManifestError, load_manifest

log = logging.getLogger(__name__)

INCOMING_MODEL = ".incoming-model"


class DeliveryError(RuntimeError):
    """The model cannot be found or installed; the message says what to do."""


@dataclass(frozen=True)
class ModelFiles:
    name: str
    sha256: str
    files: tuple[str, ...]  # paths relative to the models directory, the loaded file first


def _files_of(entry) -> tuple[str, ...]:
    if entry.derived is None:
        return (entry.load_file,)
    return (entry.load_file, f"cache/{entry.derived}.sha256")


def find_model(name: str, sha256: str, models_dir: Path) -> ModelFiles | None:
    """The manifest entry of `name` whose verified file in models_dir has this sha256, or None."""
    try:
        variants = load_manifest().variants(name)
    except ManifestError as exc:
        raise DeliveryError(f"the index needs model {name!r}: {exc}") from exc
    for entry in variants.values():
        try:
            _path, got = verified_model_file(entry, models_dir)
        except (ModelNotFoundError, FetchError):
            continue
        if got == sha256:
            return ModelFiles(name=name, sha256=sha256, files=_files_of(entry))
    return None


def wanted_files(name: str) -> tuple[str, ...]:
    """Every file any variant of `name` may need (what an upload may bring)."""
    try:
        variants = load_manifest().variants(name)
    except ManifestError as exc:
        raise DeliveryError(f"the index needs model {name!r}: {exc}") from exc
    return tuple(f for entry in variants.values() for f in _files_of(entry))


def install_model(name: str, sha256: str, staged: Path, models_dir: Path) -> ModelFiles:
    """Check the upload in `staged` and move its files into models_dir (sidecar first, then the
    model, each by rename). The upload is removed either way."""
    import shutil

    try:
        found = find_model(name, sha256, staged)
        if found is None:
            raise DeliveryError(f"the uploaded model {name} does not have sha256 {sha256}; "
                                "check the workstation's models (kiosk models fetch) and redeploy")
        for rel in reversed(found.files):
            dest = models_dir / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged / rel, dest)
        log.info("installed model %s (%s) in %s", name, sha256[:12], models_dir)
        return found
    finally:
        shutil.rmtree(staged, ignore_errors=True)
