"""The pose engine API: ``load_pose_model`` and the ``PoseModel`` protocol.

    model = load_pose_model()                          # the shipped default (manifest `default`)
    model = load_pose_model("movenet-lightning", delegate="cpu")
    model = load_pose_model(Path("my_stripped_posenet.tflite"))
    poses = model.estimate(rgb)                        # (H, W, 3) uint8 RGB -> list[Pose]

Model files come from the models directory (``KIOSK_MODELS_DIR``, default <checkout>/models),
fetched by ``kiosk models fetch``; they are verified against their sha256 before loading.
"""

from __future__ import annotations

import logging
from pathlib import Path

from kiosk.assets.fetch import read_sidecar, verified_model_file
from kiosk.assets.manifest import Manifest, load_manifest
from kiosk.core.checksum import sha256_file
from kiosk.core.enums import Delegate, Preprocess
from kiosk.core.safefile import check_regular
from kiosk.pose.model import PoseModel
from kiosk.pose.modelprobe import probe_model
from kiosk.pose.movenet import MoveNetModel, is_movenet_output
from kiosk.pose.posenet import PoseNetModel, raw_output_order
from kiosk.pose.runtime import Runtime, open_runtime

log = logging.getLogger(__name__)


def _is_path(model: str | Path) -> bool:
    if isinstance(model, Path):
        return True
    return model.endswith(".tflite") or "/" in model or "\\" in model


def _pinned(path: Path, sha: str, manifest: Manifest) -> bool:
    """The file's sha256 is pinned by the manifest (directly, or by a derived file's record)."""
    pins = {e.sha256 for e in manifest.entries}
    if sha in pins:
        return True
    recorded = read_sidecar(path)
    return recorded is not None and recorded[0] == sha and recorded[1] in pins


def _open_path(path: Path, delegate: str, num_threads: int | None, backend: str | None,
               trusted: bool) -> tuple[Runtime, str, str | None]:
    """Runtime for an explicit .tflite path. Returns (runtime, name, family or None).

    A file whose sha256 the manifest does not pin is first tried in a throwaway process
    (kiosk.pose.modelprobe) unless trusted (the probe itself)."""
    try:
        check_regular(path)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"model file {path} does not exist (logical names: `kiosk models list`; "
            "fetch them with `kiosk models fetch`)"
        ) from None
    is_tpu = "_edgetpu" in path.name
    manifest = load_manifest()
    entry = manifest.by_file(path.name)
    sha = sha256_file(path)
    if not trusted and not _pinned(path, sha, manifest):
        probe_model(path, delegate)

    def resolve(variant: str) -> tuple[Path, str]:
        if (variant == "edgetpu") != is_tpu:
            raise RuntimeError(
                f"{path.name} is {'compiled for the Edge TPU' if is_tpu else 'a CPU model'}; "
                f"it cannot run with delegate {variant}"
            )
        return path, sha

    if is_tpu and delegate == "cpu":
        raise RuntimeError(
            f"{path} is compiled for the Edge TPU and cannot run on the CPU: pass its CPU twin "
            "(the same file without _edgetpu) or use --delegate edgetpu"
        )
    runtime = open_runtime(
        resolve,
        delegate="edgetpu" if is_tpu else ("cpu" if delegate == "auto" else delegate),
        num_threads=num_threads,
        has_edgetpu=is_tpu,
        label=path.name,
        backend=backend,
    )
    name = entry.name if entry else path.stem
    return runtime, name, entry.family if entry else None


def load_pose_model(
    model: str | Path | None = None,
    *,
    delegate: str = "auto",
    num_threads: int | None = None,
    preprocess: str = "default",
    models_dir: Path | None = None,
    backend: str | None = None,
    trusted: bool = False,
) -> PoseModel:
    """Load a pose model by logical manifest name (None = the shipped default) or .tflite path.

    delegate: "auto" (Edge TPU if present, else CPU with one logged line), "cpu" or "edgetpu"
    (fails with a RuntimeError saying what to do). preprocess: "default" (keep aspect ratio,
    pad) or "coral" (stretch + nearest neighbour). Raises ModelNotFoundError (run `kiosk models
    fetch`) or ChecksumError (refuses a file whose sha256 does not match). backend: the TFLite
    interpreter, "litert" or "tflite" (None: $KIOSK_TFLITE_BACKEND, else whichever imports).
    A .tflite path whose sha256 is not pinned is tried in a throwaway process first
    (ModelRefused if it fails or crashes there); trusted=True skips that (for the trial process).
    """
    delegate = Delegate.parse(delegate, "delegate")
    preprocess = Preprocess.parse(preprocess, "preprocess")
    manifest = load_manifest()
    if model is None:
        model = manifest.default
    if _is_path(model):
        runtime, name, family = _open_path(Path(model), delegate, num_threads, backend, trusted)
    else:
        name = str(model)
        variants = manifest.variants(name)
        family = variants["cpu" if "cpu" in variants else "edgetpu"].family

        def resolve(variant: str) -> tuple[Path, str]:
            if variant not in variants:
                raise RuntimeError(f"model {name!r} has no {variant} variant")
            return verified_model_file(variants[variant], models_dir)

        runtime = open_runtime(
            resolve,
            delegate=delegate,
            num_threads=num_threads,
            has_edgetpu="edgetpu" in variants,
            label=name,
            backend=backend,
        )
    if family is None:
        if is_movenet_output(runtime.output_shapes):
            family = "movenet"
        elif raw_output_order(runtime.output_shapes) is not None:
            family = "posenet"
        else:
            raise ValueError(
                f"{runtime.path.name}: cannot tell the model family from its outputs "
                f"{runtime.output_shapes} (expected PoseNet raw outputs or MoveNet [1, 1, 17, 3])"
            )
    if family == "movenet":
        return MoveNetModel(runtime, name, preprocess=preprocess)
    return PoseNetModel(runtime, name, preprocess=preprocess)
