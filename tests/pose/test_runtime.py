"""kiosk.pose.runtime: backends, per-tensor dequantisation, Edge TPU selection and fallback."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from kiosk.assets.manifest import load_manifest
from kiosk.pose import runtime
from kiosk.pose.engine import load_pose_model


def test_litert_is_the_preferred_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KIOSK_TFLITE_BACKEND", raising=False)
    assert "litert" in runtime.available_backends()
    assert runtime.backend_module()[0] == "litert"
    with pytest.raises(ValueError, match="litert or tflite"):
        runtime.backend_module("onnx")


def test_falls_back_to_tflite_runtime_and_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KIOSK_TFLITE_BACKEND", raising=False)
    # LiteRT missing: the tflite-runtime module is used (LiteRT's module stands in for it here)
    monkeypatch.setitem(runtime._BACKENDS, "litert", "no_such_module_for_kiosk_tests")
    monkeypatch.setitem(runtime._BACKENDS, "tflite", "ai_edge_litert.interpreter")
    name, module = runtime.backend_module()
    assert name == "tflite" and hasattr(module, "Interpreter")
    # neither: a clear error naming what to install
    monkeypatch.setitem(runtime._BACKENDS, "tflite", "no_such_module_for_kiosk_tests")
    with pytest.raises(RuntimeError, match="pip install ai-edge-litert"):
        runtime.backend_module()


def test_outputs_are_dequantised_with_each_tensors_own_parameters(models_dir: Path) -> None:
    path = models_dir / load_manifest().get("posenet-481x641").load_file
    rt = runtime.open_runtime(lambda v: (path, "x"), delegate="cpu")
    rng = np.random.default_rng(3)
    frame = rng.integers(0, 255, (*rt.input_size, 3), dtype=np.uint8)
    outs, ms = rt.invoke(frame)
    assert ms > 0
    details = rt.interpreter.get_output_details()
    params = {(d["quantization"][0], d["quantization"][1]) for d in details}
    assert len(params) == 3  # three different scales / zero points
    for out, d in zip(outs, details, strict=True):
        scale, zero = d["quantization"]
        raw = rt.interpreter.get_tensor(d["index"])
        assert raw.dtype == np.uint8 and out.dtype == np.float32
        np.testing.assert_allclose(out, (raw.astype(np.float32) - zero) * scale, rtol=1e-6)


def test_auto_uses_the_edgetpu_file_when_the_delegate_loads(
    models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a (simulated) Edge TPU, auto picks the model's stripped _edgetpu file."""
    seen: dict[str, object] = {}
    real = runtime.make_interpreter
    cpu_file = models_dir / load_manifest().get("posenet-481x641").load_file

    def fake_make(path: Path, *, delegates: list | None = None, **kw: object) -> object:
        seen["path"], seen["delegates"] = path, delegates
        return real(cpu_file)  # a CPU stand-in for the Edge TPU interpreter

    monkeypatch.setattr(runtime, "load_edgetpu_delegate", lambda backend=None: "tpu")
    monkeypatch.setattr(runtime, "make_interpreter", fake_make)
    model = load_pose_model("posenet-481x641", delegate="auto", models_dir=models_dir)
    assert model.delegate == "edgetpu"
    assert Path(seen["path"]).name == load_manifest().get("posenet-481x641", "edgetpu").load_file
    assert seen["delegates"] == ["tpu"]


def test_auto_falls_back_when_edgetpu_file_is_missing(
    models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    entry = load_manifest().get("movenet-lightning")
    (tmp_path / entry.file).write_bytes((models_dir / entry.file).read_bytes())
    monkeypatch.setattr(runtime, "load_edgetpu_delegate", lambda backend=None: "tpu")
    with caplog.at_level(logging.WARNING, logger="kiosk.pose.runtime"):
        model = load_pose_model("movenet-lightning", delegate="auto", models_dir=tmp_path)
    assert model.delegate == "cpu"
    [line] = [r.getMessage() for r in caplog.records]
    assert "Edge TPU model file unavailable" in line and "kiosk models fetch movenet-lightning" in line
