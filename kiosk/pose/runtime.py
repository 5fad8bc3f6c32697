"""All interpreter and delegate code: LiteRT or tflite-runtime, CPU or Coral Edge TPU.

Backend: ``ai_edge_litert.interpreter`` if importable, else ``tflite_runtime.interpreter``
(``KIOSK_TFLITE_BACKEND=litert|tflite`` forces one, e.g. to benchmark both side by side).

Delegates: ``cpu`` runs the model's CPU file; ``edgetpu`` loads ``libedgetpu.so.1`` (override with
``KIOSK_EDGETPU_LIB``) and runs the model's ``_edgetpu`` file, failing with a RuntimeError that
says what to do; ``auto`` tries the Edge TPU and falls back to the CPU file, logging one line
saying why (INFO when the machine has no Edge TPU at all, WARNING when it has one that fails).
A missing Edge TPU never crashes the kiosk in ``auto``.

Outputs are dequantised with each tensor's own scale and zero point.
"""

from __future__ import annotations

import ctypes
import importlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from kiosk.core.enums import Backend, Delegate
from kiosk.core.settings import env_str

log = logging.getLogger(__name__)

EDGETPU_LIB = "libedgetpu.so.1"
NO_EDGETPU = "Edge TPU delegate failed to load"
_BACKENDS = {Backend.LITERT: "ai_edge_litert.interpreter", Backend.TFLITE: "tflite_runtime.interpreter"}


def available_backends() -> list[Backend]:
    """The interpreter backends ("litert", "tflite") that import here."""
    out = []
    for name, module in _BACKENDS.items():
        try:
            importlib.import_module(module)
        except ImportError:
            continue
        out.append(name)
    return out


def backend_module(name: str | None = None) -> tuple[Backend, ModuleType]:
    """(backend name, interpreter module): name, else $KIOSK_TFLITE_BACKEND, else LiteRT first and
    tflite-runtime as the alternative."""
    name = name or env_str("KIOSK_TFLITE_BACKEND")
    if name and name not in Backend.values():
        raise ValueError(f"unknown interpreter backend {name!r} (use litert or tflite)")
    order = [Backend(name)] if name else list(_BACKENDS)
    errors = []
    for candidate in order:
        try:
            return candidate, importlib.import_module(_BACKENDS[candidate])
        except ImportError as exc:
            errors.append(f"{_BACKENDS[candidate]}: {exc}")
    raise RuntimeError(
        "no TFLite interpreter is installed (" + "; ".join(errors) + "): "
        "pip install ai-edge-litert (or tflite-runtime on numpy<2 systems)"
    )


def load_edgetpu_delegate(backend: str | None = None, lib: str | None = None) -> Any:
    """Load the Edge TPU delegate from lib (None: $KIOSK_EDGETPU_LIB, else libedgetpu.so.1);
    raises whatever the backend raises when it cannot."""
    _, module = backend_module(backend)
    lib = lib or env_str("KIOSK_EDGETPU_LIB") or EDGETPU_LIB
    # Probe the library first: a failed load_delegate() leaves a half-built Delegate whose
    # destructor prints a traceback in some LiteRT versions.
    ctypes.CDLL(lib)
    return module.load_delegate(lib)


def make_interpreter(
    model_path: Path,
    *,
    num_threads: int | None = None,
    delegates: list[Any] | None = None,
    backend: str | None = None,
) -> Any:
    """An allocated interpreter for model_path."""
    _, module = backend_module(backend)
    kwargs: dict[str, Any] = {"model_path": str(model_path)}
    if num_threads is not None:
        kwargs["num_threads"] = int(num_threads)
    if delegates:
        kwargs["experimental_delegates"] = delegates
    interpreter = module.Interpreter(**kwargs)
    interpreter.allocate_tensors()
    return interpreter


def dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """float32 values of a quantized tensor (float tensors, scale 0, are returned as float32)."""
    if not scale:
        return np.asarray(q, dtype=np.float32)
    return (q.astype(np.float32) - np.float32(zero_point)) * np.float32(scale)


@dataclass
class Runtime:
    """One loaded model: its interpreter plus what the adapters need to feed and read it.

    input_size: (height, width); input_dtype: np.uint8 for all shipped models.
    output_names / output_shapes: in the interpreter's output order.
    """

    interpreter: Any
    path: Path
    sha256: str
    delegate: str  # "cpu" | "edgetpu", what is actually in use
    backend: str
    input_size: tuple[int, int] = field(init=False)
    input_dtype: Any = field(init=False)
    output_names: list[str] = field(init=False)
    output_shapes: list[tuple[int, ...]] = field(init=False)

    def __post_init__(self) -> None:
        inp = self.interpreter.get_input_details()[0]
        self._input_index = inp["index"]
        shape = tuple(int(v) for v in inp["shape"])
        if len(shape) != 4 or shape[0] != 1 or shape[3] != 3:
            raise ValueError(f"{self.path}: expected an input [1, H, W, 3], got {list(shape)}")
        self.input_size = (shape[1], shape[2])
        self.input_dtype = inp["dtype"]
        self._input_quant = inp.get("quantization", (0.0, 0))
        outs = self.interpreter.get_output_details()
        self._outputs = [(d["index"], *d.get("quantization", (0.0, 0))) for d in outs]
        self.output_names = [str(d["name"]) for d in outs]
        self.output_shapes = [tuple(int(v) for v in d["shape"]) for d in outs]

    def invoke(self, tensor: np.ndarray) -> tuple[list[np.ndarray], float]:
        """Run on one (H, W, 3) uint8 input; returns (dequantised outputs, invoke ms)."""
        batch: np.ndarray
        if self.input_dtype == np.uint8:
            batch = np.ascontiguousarray(tensor, dtype=np.uint8)[None]
        else:  # float model: feed [0, 255] -> [-1, 1]
            batch = (tensor.astype(np.float32)[None] - 127.5) / 127.5
        self.interpreter.set_tensor(self._input_index, batch)
        t0 = time.perf_counter()
        self.interpreter.invoke()
        ms = (time.perf_counter() - t0) * 1000.0
        outs = [dequantize(self.interpreter.get_tensor(i), s, z) for i, s, z in self._outputs]
        return outs, ms


#: resolve(variant) -> (path, sha256); may raise (missing file, checksum mismatch).
Resolver = Callable[[str], tuple[Path, str]]


def open_runtime(
    resolve: Resolver,
    *,
    delegate: str = "auto",
    num_threads: int | None = None,
    has_edgetpu: bool = True,
    label: str = "model",
    backend: str | None = None,
) -> Runtime:
    """Create the interpreter for a model given how to find its cpu/edgetpu files.

    delegate "edgetpu" that cannot be honoured raises RuntimeError (saying what to do);
    "auto" falls back to the CPU variant logging one line with the reason: INFO when there is no
    Edge TPU at all (the delegate does not load), WARNING when one is there but cannot be used.
    """
    delegate = Delegate.parse(delegate, "delegate")
    backend_name, _ = backend_module(backend)
    if delegate == "edgetpu" and not has_edgetpu:
        raise RuntimeError(
            f"{label} has no Edge TPU variant; use --delegate cpu (or auto), "
            "or pick a model with an _edgetpu file (see `kiosk models list`)"
        )
    if delegate in ("auto", "edgetpu") and has_edgetpu:
        stage = NO_EDGETPU
        try:
            tpu = load_edgetpu_delegate(backend_name)
            stage = "Edge TPU model file unavailable"
            path, sha = resolve("edgetpu")
            stage = "Edge TPU interpreter failed"
            interpreter = make_interpreter(
                path, num_threads=num_threads, delegates=[tpu], backend=backend_name
            )
            log.info("%s running on the Edge TPU (%s)", label, path.name)
            return Runtime(interpreter, path, sha, "edgetpu", backend_name)
        except Exception as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            if delegate == "edgetpu":
                raise RuntimeError(
                    f"Edge TPU requested for {label} but unavailable: {stage}: {reason}. Connect "
                    f"a Coral Edge TPU and install its runtime (libedgetpu1-std provides "
                    f"{EDGETPU_LIB}), fetch the model with `kiosk models fetch`, or run with "
                    "--delegate auto or --delegate cpu."
                ) from exc
            # no Edge TPU at all (no runtime library, no device) is the normal case on a machine
            # without a Coral: say so quietly; a Coral that is there but fails is worth a warning
            level = logging.INFO if stage == NO_EDGETPU else logging.WARNING
            log.log(level, "%s (%s); running %s on CPU", stage, reason, label)
    elif delegate == "auto":
        log.info("%s has no Edge TPU variant; running on CPU", label)
    path, sha = resolve("cpu")
    try:
        interpreter = make_interpreter(path, num_threads=num_threads, backend=backend_name)
    except Exception as exc:
        msg = " ".join(str(exc).split())
        hint = ""
        if "PosenetDecoderOp" in msg:
            hint = " Strip Coral's decoder op first: `kiosk models strip-decoder IN OUT`."
        elif "edgetpu-custom-op" in msg:
            hint = " This model is compiled for the Edge TPU; use its CPU twin."
        raise RuntimeError(f"cannot load {path} on the CPU: {msg}.{hint}") from exc
    return Runtime(interpreter, path, sha, "cpu", backend_name)
