"""The model manifest (models/manifest.yaml): which files exist, where they come from, their sha256.

A *logical name* (e.g. ``posenet-481x641``, ``movenet-lightning``) plus a *variant* (``cpu`` or
``edgetpu``) selects one manifest entry, i.e. one upstream file. Entries of kind ``decoder`` are
Coral's ``*_quant_decoder*.tflite`` models; the file actually loaded is the ``derived`` one, with
Coral's PosenetDecoderOp stripped (written by ``kiosk models fetch``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from kiosk.core import paths
from kiosk.core.enums import ModelFamily, Variant
from kiosk.core.safefile import FileRefused
from kiosk.core.safeyaml import YamlRefused, load_yaml

log = logging.getLogger(__name__)

KINDS = ("decoder", "components", "single")


class ManifestError(ValueError):
    """The manifest is malformed or does not know a requested model."""


@dataclass(frozen=True)
class ModelEntry:
    """One upstream model file.

    name:       logical model name (shared by the cpu and edgetpu variants)
    family:     "posenet" | "movenet"
    input_size: (height, width) of the model input
    variant:    "cpu" | "edgetpu"
    kind:       "decoder" | "components" | "single"
    file:       upstream file name (as downloaded)
    url:        upstream URL, pinned by commit
    sha256:     of the upstream file
    bytes:      size of the upstream file
    derived:    for kind "decoder": the decoder-stripped file written next to it (else None)
    """

    name: str
    family: str
    input_size: tuple[int, int]
    variant: str
    kind: str
    file: str
    url: str
    sha256: str
    bytes: int
    derived: str | None = None

    @property
    def load_file(self) -> str:
        """The file name the runtime loads (the stripped one for decoder models)."""
        return self.derived or self.file


@dataclass(frozen=True)
class Manifest:
    entries: tuple[ModelEntry, ...]
    default: str

    def names(self) -> list[str]:
        """Logical model names, in manifest order, without duplicates."""
        seen: dict[str, None] = {}
        for e in self.entries:
            seen.setdefault(e.name, None)
        return list(seen)

    def variants(self, name: str) -> dict[str, ModelEntry]:
        """variant -> entry for one logical name (raises ManifestError for unknown names)."""
        found = {e.variant: e for e in self.entries if e.name == name}
        if not found:
            raise ManifestError(
                f"unknown model {name!r}; known models: {', '.join(self.names())} "
                "(or pass a path to a .tflite file)"
            )
        return found

    def get(self, name: str, variant: str = "cpu") -> ModelEntry:
        found = self.variants(name)
        if variant not in found:
            raise ManifestError(f"model {name!r} has no {variant} variant (has: {', '.join(found)})")
        return found[variant]

    def by_file(self, file_name: str) -> ModelEntry | None:
        """The entry whose upstream or derived file is called file_name, if any."""
        for e in self.entries:
            if file_name in (e.file, e.derived):
                return e
        return None


def _entry(raw: dict, where: str) -> ModelEntry:
    try:
        h, w = (int(v) for v in raw["input_size"])
        entry = ModelEntry(
            name=str(raw["name"]),
            family=str(raw["family"]),
            input_size=(h, w),
            variant=str(raw["variant"]),
            kind=str(raw["kind"]),
            file=str(raw["file"]),
            url=str(raw["url"]),
            sha256=str(raw["sha256"]).lower(),
            bytes=int(raw["bytes"]),
            derived=str(raw["derived"]) if raw.get("derived") else None,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ManifestError(f"{where}: malformed model entry {raw!r}: {exc}") from exc
    known = entry.family in ModelFamily.values() and entry.variant in Variant.values()
    if not known or entry.kind not in KINDS:
        raise ManifestError(f"{where}: bad family/variant/kind in entry {entry.name!r}")
    if len(entry.sha256) != 64:
        raise ManifestError(f"{where}: entry {entry.name!r} has a malformed sha256")
    return entry


def load_manifest(path: Path | None = None) -> Manifest:
    """Read and validate models/manifest.yaml (KIOSK_MODEL_MANIFEST overrides the path)."""
    path = Path(path) if path is not None else paths.model_manifest()
    try:
        data = load_yaml(path)
    except (YamlRefused, FileRefused) as exc:
        raise ManifestError(f"the model manifest is not usable: {exc}") from None
    except OSError as exc:
        raise ManifestError(f"cannot read the model manifest {path}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("models"), list):
        raise ManifestError(f"{path}: expected a mapping with a 'models' list")
    entries = tuple(_entry(raw, str(path)) for raw in data["models"])
    if not entries:
        raise ManifestError(f"{path}: the 'models' list is empty")
    default = str(data.get("default") or entries[0].name)
    manifest = Manifest(entries=entries, default=default)
    manifest.variants(default)  # validates the default
    return manifest


