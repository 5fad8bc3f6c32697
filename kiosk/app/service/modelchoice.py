"""One model for archive and visitor: which pose model the kiosk runs for an index.

The gallery index was built with one pose model (its manifest names it); the visitor's poses
must come from the same model, or from a compatible one, for distances to mean anything (on the
same frames MoveNet against a PoseNet-built index retrieved about half as well). With
model.name empty (the default) the kiosk runs the index's model; a model named in the config
that is not compatible with the index's is a *mismatch*: the kiosk runs it as told and says so
(log, status `model_mismatch`, `kiosk doctor`).

Compatible: the same logical model, or the same network packaged differently: the same family
and input size in models/manifest.yaml (e.g. posenet-353x481 and posenet-353x481-components).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelChoice:
    name: str  # the model to run
    index_model: str | None  # the model the index was built with (None: no index, or not named)
    mismatch: str | None  # why the two do not fit, with the fix (None: they do)


def _signature(name: str) -> tuple[str, tuple[int, int]] | None:
    from kiosk.assets.manifest import ManifestError, load_manifest

    try:
        entry = load_manifest().get(name, "cpu")
    except (ManifestError, OSError):
        return None
    return entry.family, tuple(entry.input_size)  # type: ignore[return-value]


def compatible(a: str, b: str) -> bool:
    """The same model, or the same family at the same input size (manifest models only)."""
    if a == b:
        return True
    sa, sb = _signature(a), _signature(b)
    return sa is not None and sa == sb


def default_model() -> str:
    from kiosk.assets.manifest import load_manifest

    return load_manifest().default


def choose_model(configured: str, index_model: str | None) -> ModelChoice:
    """configured: model.name ("" = the index's model); index_model: what the index names."""
    if not configured:
        if index_model:
            return ModelChoice(index_model, index_model, None)
        return ModelChoice(default_model(), None, None)
    if index_model is None or compatible(configured, index_model):
        return ModelChoice(configured, index_model, None)
    mismatch = (f"the index was built with {index_model} but model.name is {configured}: matches are "
                f"poorer across models; set model.name to {index_model} or leave it empty (the "
                "index's model), or rebuild the index with --model " + configured)
    return ModelChoice(configured, index_model, mismatch)


def after_reload(running: str, configured: str, index_model: str | None) -> ModelChoice:
    """A reload swaps the config and index but not the loaded model (`running`): the choice as it
    stands, with the restart that would run the model the new config and index want."""
    wanted = choose_model(configured, index_model)
    choice = choose_model(running, wanted.index_model)
    if wanted.name != running and choice.mismatch is None and wanted.index_model:
        return ModelChoice(running, wanted.index_model,
                           f"the index was built with {wanted.index_model}, the kiosk runs {running}: "
                           f"restart it to run {wanted.name} (systemctl restart move-mirror)")
    return choice
