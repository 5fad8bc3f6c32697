"""Stripping Coral's PosenetDecoderOp and reading its custom options."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kiosk.assets.tflite_edit import (
    DECODER_OP,
    EDGETPU_OP,
    custom_ops,
    decoder_options,
    read_model,
    strip_decoder,
)
from kiosk.pose.runtime import make_interpreter

DECODER_481 = "posenet_mobilenet_v1_075_481_641_quant_decoder.tflite"
RAW = ["MobilenetV1/heatmap_2/BiasAdd", "MobilenetV1/offset_2/BiasAdd", "concat"]


def test_decoder_custom_options_are_corals_defaults(shared_dir: Path) -> None:
    opts = decoder_options(shared_dir / "models" / DECODER_481)
    assert opts["max_detections"] == 10
    assert opts["score_threshold"] == pytest.approx(0.2)
    assert opts["nms_radius"] == pytest.approx(10.0)
    assert opts["stride"] == 16


def test_stripped_cpu_model_runs_on_cpu(shared_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "stripped.tflite"
    result = strip_decoder(shared_dir / "models" / DECODER_481, out)
    assert result.outputs == RAW
    assert result.remaining_custom_ops == []
    interp = make_interpreter(out, num_threads=1)
    inp = interp.get_input_details()[0]
    interp.set_tensor(inp["index"], np.full((1, 481, 641, 3), 128, np.uint8))
    interp.invoke()
    shapes = [tuple(d["shape"]) for d in interp.get_output_details()]
    assert shapes == [(1, 31, 41, 17), (1, 31, 41, 34), (1, 31, 41, 64)]
    for d in interp.get_output_details():
        assert d["dtype"] == np.uint8 and d["quantization"][0] > 0


@pytest.mark.parametrize("size", ["353_481", "481_641", "721_1281"])
def test_stripped_edgetpu_model_keeps_edgetpu_op(shared_dir: Path, tmp_path: Path, size: str) -> None:
    src = shared_dir / "models" / f"posenet_mobilenet_v1_075_{size}_quant_decoder_edgetpu.tflite"
    assert custom_ops(read_model(src)) == [EDGETPU_OP, DECODER_OP]
    out = tmp_path / "stripped_edgetpu.tflite"
    result = strip_decoder(src, out)
    model = read_model(out)
    assert custom_ops(model) == [EDGETPU_OP]
    assert result.outputs == RAW
    sg = model.subgraphs[0]
    # the raw tensors are produced by the Edge TPU op and are now the graph's outputs
    [tpu_op] = sg.operators
    assert list(tpu_op.outputs) == list(sg.outputs)
    h, w = (int(v) for v in size.split("_"))
    gh, gw = (h - 1) // 16 + 1, (w - 1) // 16 + 1
    shapes = [tuple(sg.tensors[i].shape) for i in sg.outputs]
    assert shapes == [(1, gh, gw, 17), (1, gh, gw, 34), (1, gh, gw, 64)]


def test_strip_refuses_model_without_decoder(shared_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=DECODER_OP):
        strip_decoder(shared_dir / "models" / "movenet_single_pose_lightning_ptq.tflite", tmp_path / "x")
    assert not (tmp_path / "x").exists()
