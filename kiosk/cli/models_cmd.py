"""`kiosk models fetch|list|strip-decoder|info`: the model files (downloaded, sha256-pinned)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from kiosk.core.enums import ExitCode

log = logging.getLogger(__name__)

HELP = "model files: fetch (mirror or upstream, sha256-verified), list, strip-decoder, info"


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    p = sub.add_parser("fetch", help="download (or copy from a mirror) and verify model files")
    p.add_argument("names", nargs="*", metavar="NAME", help="logical model names (default: all)")
    p.add_argument("--mirror", type=Path, help="local mirror dir (default: $KIOSK_ASSET_MIRROR)")
    p.add_argument("--dest", type=Path, help="models directory (default: $KIOSK_MODELS_DIR)")
    p.set_defaults(func=run_fetch)
    p = sub.add_parser("list", help="the manifest's models and whether they are fetched")
    p.add_argument("--dest", type=Path, help="models directory (default: $KIOSK_MODELS_DIR)")
    p.set_defaults(func=run_list)
    p = sub.add_parser("strip-decoder", help="remove Coral's PosenetDecoderOp from a .tflite")
    p.add_argument("src", type=Path, metavar="IN.tflite", help="a Coral *_quant_decoder model")
    p.add_argument("dest", type=Path, metavar="OUT.tflite", help="where to write the stripped model")
    p.set_defaults(func=run_strip)
    p = sub.add_parser("info", help="inputs, outputs, custom ops and decoder options of a .tflite")
    p.add_argument("model", type=Path, metavar="MODEL.tflite", help="the .tflite file to describe")
    p.set_defaults(func=run_info)


def run_fetch(args: argparse.Namespace) -> int:
    from kiosk.assets.fetch import FetchError, fetch_models
    from kiosk.assets.manifest import ManifestError
    from kiosk.core import paths

    dest = args.dest or paths.models_dir()
    try:
        written = fetch_models(dest, mirror=args.mirror, names=args.names or None)
    except (FetchError, ManifestError) as exc:
        print(f"kiosk models fetch: {exc}", file=sys.stderr)
        return ExitCode.FAILURE
    print(f"{len(written)} model files ready in {dest}")
    return ExitCode.OK


def run_list(args: argparse.Namespace) -> int:
    from kiosk.assets.manifest import load_manifest
    from kiosk.core import paths

    manifest = load_manifest()
    dest = args.dest or paths.models_dir()
    print(f"models directory: {dest}")
    for name in manifest.names():
        variants = manifest.variants(name)
        e = next(iter(variants.values()))
        have = [v for v, ve in variants.items() if (dest / ve.load_file).is_file()]
        default = " (default)" if name == manifest.default else ""
        print(
            f"{name:30s} {e.family:8s} {e.input_size[0]}x{e.input_size[1]:<5d} {e.kind:10s} "
            f"variants: {','.join(variants)}  fetched: {','.join(have) or '-'}{default}"
        )
    return ExitCode.OK


def run_strip(args: argparse.Namespace) -> int:
    from kiosk.assets.tflite_edit import strip_decoder

    try:
        result = strip_decoder(args.src, args.dest)
    except (OSError, ValueError) as exc:
        print(f"kiosk models strip-decoder: {exc}", file=sys.stderr)
        return ExitCode.FAILURE
    ops = ", ".join(result.remaining_custom_ops) or "none"
    print(f"wrote {args.dest}: outputs {', '.join(result.outputs)}; custom ops left: {ops}")
    return ExitCode.OK


def run_info(args: argparse.Namespace) -> int:
    from kiosk.assets.tflite_edit import DECODER_OP, custom_ops, decoder_options, read_model
    from kiosk.core.checksum import sha256_file

    try:
        model = read_model(args.model)
    except ValueError as exc:  # OSError (a missing file): kiosk.cli.main reports it
        print(f"kiosk models info: {exc}", file=sys.stderr)
        return ExitCode.FAILURE
    sg = model.subgraphs[0]

    def describe(i: int) -> str:
        t = sg.tensors[i]
        name = t.name.decode() if isinstance(t.name, bytes) else t.name
        q = t.quantization
        quant = ""
        if q is not None and q.scale is not None and len(q.scale):
            quant = f" scale {float(q.scale[0]):.6g} zero {int(q.zeroPoint[0])}"
        return f"{name} {[int(v) for v in t.shape]}{quant}"

    print(f"{args.model}  sha256 {sha256_file(args.model)}")
    for i in sg.inputs:
        print(f"  input  {describe(i)}")
    for i in sg.outputs:
        print(f"  output {describe(i)}")
    ops = custom_ops(model)
    print(f"  custom ops: {', '.join(ops) or 'none'}")
    if DECODER_OP in ops:
        print(f"  decoder options: {decoder_options(args.model)}")
    return ExitCode.OK
