"""Editing `.tflite` flatbuffers: strip Coral's PosenetDecoderOp, read its custom options.

Coral's ``*_quant_decoder*.tflite`` models end with a ``PosenetDecoderOp`` custom operator whose
three inputs are the network's raw outputs:

    heatmaps       [1, h, w, 17]  uint8 (logits once dequantised)
    short offsets  [1, h, w, 34]  uint8 (pixels: 17 y then 17 x)
    displacements  [1, h, w, 64]  uint8 (pixels: 16 fwd y, 16 fwd x, 16 bwd y, 16 bwd x)

Stripping removes the operator and makes those three tensors the subgraph outputs, so any
TFLite/LiteRT interpreter (with or without the Edge TPU delegate) can run the model and the
decoding happens in numpy. Uses the flatbuffer object API shipped with LiteRT.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DECODER_OP = "PosenetDecoderOp"
EDGETPU_OP = "edgetpu-custom-op"
_TFLITE_IDENTIFIER = b"TFL3"


def _schema() -> Any:
    try:
        from ai_edge_litert import schema_py_generated as schema
    except ImportError as exc:  # pragma: no cover - depends on the installed runtime
        raise RuntimeError(
            "editing .tflite files needs the LiteRT wheel's flatbuffer schema: "
            "pip install ai-edge-litert flatbuffers"
        ) from exc
    return schema


def read_model(path: Path) -> Any:
    """Parse a .tflite file into a mutable schema ``ModelT``."""
    schema = _schema()
    buf = Path(path).read_bytes()
    if len(buf) < 8 or buf[4:8] != _TFLITE_IDENTIFIER:
        raise ValueError(f"{path} is not a .tflite flatbuffer (no TFL3 identifier)")
    return schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(buf, 0))


def model_bytes(model: Any) -> bytes:
    import flatbuffers

    builder = flatbuffers.Builder(1 << 20)
    builder.Finish(model.Pack(builder), file_identifier=_TFLITE_IDENTIFIER)
    return bytes(builder.Output())


def _custom_code(model: Any, op: Any) -> str | None:
    code = model.operatorCodes[op.opcodeIndex].customCode
    if code is None:
        return None
    return code.decode() if isinstance(code, bytes | bytearray) else str(code)


def custom_ops(model: Any) -> list[str]:
    """Custom operator names used in subgraph 0, in execution order."""
    return [c for op in model.subgraphs[0].operators if (c := _custom_code(model, op))]


def output_names(model: Any) -> list[str]:
    sg = model.subgraphs[0]
    return [_tensor_name(sg.tensors[i]) for i in sg.outputs]


def _tensor_name(tensor: Any) -> str:
    name = tensor.name
    return name.decode() if isinstance(name, bytes | bytearray) else str(name)


def decoder_options(path: Path) -> dict[str, Any]:
    """The PosenetDecoderOp custom options (a flexbuffer map) of a Coral decoder model.

    Returns e.g. {"max_detections": 10, "nms_radius": 10.0, "score_threshold": 0.2, "stride": 16}
    (plus any other keys Coral stored). Raises ValueError when the model has no decoder op.
    """
    from flatbuffers import flexbuffers

    model = read_model(path)
    for op in model.subgraphs[0].operators:
        if _custom_code(model, op) == DECODER_OP:
            if op.customOptions is None:
                return {}
            return dict(flexbuffers.Loads(bytes(bytearray(op.customOptions))))
    raise ValueError(f"{path} has no {DECODER_OP} operator")


@dataclass(frozen=True)
class StripResult:
    outputs: list[str]  # names of the new subgraph outputs
    remaining_custom_ops: list[str]  # e.g. ["edgetpu-custom-op"] for an Edge TPU model


def strip_decoder_model(model: Any) -> StripResult:
    """Remove PosenetDecoderOp from ``model`` in place; its inputs become the subgraph outputs."""
    sg = model.subgraphs[0]
    decoder_idx = [i for i, op in enumerate(sg.operators) if _custom_code(model, op) == DECODER_OP]
    if not decoder_idx:
        raise ValueError(f"the model has no {DECODER_OP} operator to strip")
    if len(decoder_idx) > 1:
        raise ValueError(f"the model has {len(decoder_idx)} {DECODER_OP} operators; expected one")
    op = sg.operators[decoder_idx[0]]
    new_outputs = [int(i) for i in op.inputs if i >= 0]
    dropped = {int(i) for i in op.outputs}
    # Nothing else may consume the decoder's outputs.
    for other in sg.operators:
        if other is not op and dropped & {int(i) for i in other.inputs}:
            raise ValueError(f"another operator consumes the {DECODER_OP} outputs; cannot strip")
    sg.operators = [o for o in sg.operators if o is not op]
    sg.outputs = new_outputs
    _drop_unused_opcodes(model)
    if model.signatureDefs:
        log.debug("dropping %d signature defs that name the decoder outputs", len(model.signatureDefs))
        model.signatureDefs = []
    return StripResult(outputs=output_names(model), remaining_custom_ops=custom_ops(model))


def _drop_unused_opcodes(model: Any) -> None:
    used = sorted({op.opcodeIndex for sg in model.subgraphs for op in sg.operators})
    remap = {old: new for new, old in enumerate(used)}
    model.operatorCodes = [model.operatorCodes[i] for i in used]
    for sg in model.subgraphs:
        for op in sg.operators:
            op.opcodeIndex = remap[op.opcodeIndex]


def strip_decoder(src: Path, dest: Path) -> StripResult:
    """Write ``src`` without its PosenetDecoderOp to ``dest`` (atomically: temp file + rename)."""
    src, dest = Path(src), Path(dest)
    model = read_model(src)
    result = strip_decoder_model(model)
    data = model_bytes(model)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    log.debug("stripped %s -> %s (outputs %s)", src.name, dest, result.outputs)
    return result
