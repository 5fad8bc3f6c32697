"""`kiosk bench gil`: does the interpreter release Python's GIL during invoke()?

The render loop and the pose worker are threads of one process: the display only keeps its rate
while the model runs if invoke() lets go of the GIL. This measures it: a pure-Python counter in
the main thread runs alone (baseline), then while a second thread invokes the model back to
back. The ratio of the two counting rates is ~1 when invoke releases the GIL (the two threads
run on two cores) and ~0 when it holds it for the whole invoke (the counter only runs between
two invokes). Three controls frame the figure: a thread that sleeps (releases the GIL, no CPU),
one that hashes a large buffer (releases the GIL but takes a core: what CPU contention alone
costs on a busy machine) and one that spins in Python (holds the GIL, handing it over every
switch interval: ~0.5).

Runs on each installed backend (LiteRT, tflite-runtime) with one interpreter thread, so that
the counter and the invoke each have a core of a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kiosk.core.enums import ExitCode

log = logging.getLogger(__name__)

HELP = "gil: does LiteRT / tflite-runtime release the GIL during invoke (counter-rate ratio)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="movenet-lightning", help="model name (models/manifest.yaml)")
    parser.add_argument("--model-file", type=Path, default=None, help="a .tflite file instead of --model")
    parser.add_argument("--models-dir", type=Path, default=None, help="default: KIOSK_MODELS_DIR")
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds per measurement (default 3)")
    parser.add_argument("--backend", action="append", choices=("litert", "tflite"),
                        help="backend(s) to measure (default: every installed one)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")


def count_for(seconds: float) -> float:
    """Iterations per second of a pure-Python loop in this thread."""
    n = 0
    end = time.perf_counter() + seconds
    while True:
        for _ in range(1000):
            n += 1
        if time.perf_counter() >= end:
            return n / seconds


def ratio_with(work: Callable[[], None], seconds: float) -> tuple[float, float]:
    """(counting rate with `work` looping in another thread / rate alone, share of wall time the
    other thread spent inside work())."""
    alone = count_for(seconds)
    stop = threading.Event()
    busy = [0.0]

    def loop() -> None:
        while not stop.is_set():
            t0 = time.perf_counter()
            work()
            busy[0] += time.perf_counter() - t0

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    t0 = time.perf_counter()
    together = count_for(seconds)
    wall = time.perf_counter() - t0
    stop.set()
    thread.join()
    return together / alone, min(busy[0] / wall, 1.0)


_BUFFER = bytes(8 << 20)


def _hash() -> None:
    import hashlib

    hashlib.sha256(_BUFFER).digest()  # CPython releases the GIL while hashing large buffers


def _spin() -> None:
    end = time.perf_counter() + 0.01
    while time.perf_counter() < end:
        pass


def _model_path(args: argparse.Namespace) -> Path:
    if args.model_file is not None:
        return args.model_file
    from kiosk.assets.fetch import verified_model_file
    from kiosk.assets.manifest import load_manifest

    entry = load_manifest().get(args.model, "cpu")
    return verified_model_file(entry, args.models_dir)[0]


def measure(path: Path, backends: list[str], seconds: float) -> dict[str, Any]:
    import numpy as np

    from kiosk.pose.runtime import make_interpreter

    out: dict[str, Any] = {"model": path.name, "seconds": seconds, "cpus": os.cpu_count()}
    out["sleep_control"] = ratio_with(lambda: time.sleep(0.01), seconds)[0]
    out["hash_control"] = ratio_with(_hash, seconds)[0]
    out["python_spin_control"] = ratio_with(_spin, seconds)[0]
    for backend in backends:
        interpreter = make_interpreter(path, num_threads=1, backend=backend)
        inp = interpreter.get_input_details()[0]
        interpreter.set_tensor(inp["index"], np.zeros(inp["shape"], inp["dtype"]))
        t0 = time.perf_counter()
        interpreter.invoke()
        first_ms = (time.perf_counter() - t0) * 1000.0
        ratio, share = ratio_with(interpreter.invoke, seconds)
        out[backend] = {"ratio": ratio, "invoke_share": share, "invoke_ms": first_ms}
    return out


def run(args: argparse.Namespace) -> int:
    from kiosk.pose.runtime import available_backends

    backends: list[str] = list(args.backend or [str(b) for b in available_backends()])
    if not backends:
        print("kiosk bench gil: no interpreter installed (pip install ai-edge-litert)", file=sys.stderr)
        return ExitCode.USAGE
    result = measure(_model_path(args), backends, args.seconds)
    result["date"] = time.strftime("%Y-%m-%d %H:%M %Z")
    if args.json:
        print(json.dumps(result, indent=2))
        return ExitCode.OK
    print(f"kiosk bench gil: {result['model']}, {args.seconds:g} s each, {result['cpus']} CPUs")
    print("  counting rate of a Python thread while another thread works, relative to alone:")
    print(f"  {'sleep (releases the GIL)':<34}{result['sleep_control']:>6.2f}")
    print(f"  {'sha256 (releases it, takes a core)':<34}{result['hash_control']:>6.2f}")
    print(f"  {'Python spin (holds the GIL)':<34}{result['python_spin_control']:>6.2f}")
    for b in backends:
        r = result[b]
        print(f"  {b + ' invoke':<34}{r['ratio']:>6.2f}   (inside invoke {100 * r['invoke_share']:.0f}% "
              f"of the time, {r['invoke_ms']:.0f} ms each)")
    return ExitCode.OK
