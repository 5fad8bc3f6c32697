"""`kiosk run` whose pose model hangs inside estimate() after N estimates, for the watchdog test's
subprocess: `python -m tests.app.hung_kiosk N run ARGS...`. The hang is injected through the
service's factories (a wrapped model), never through the environment of production code."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import threading
from typing import Any

from kiosk.app.service import components
from kiosk.app.service.config import KioskConfig
from kiosk.app.service.seams import Factories
from kiosk.cli import run_cmd


class HangingModel:
    """The real model for `free` estimates, then stuck for good (as a wedged interpreter is)."""

    def __init__(self, model: Any, free: int) -> None:
        self._model = model
        self._free = free
        self._calls = 0

    def __getattr__(self, name: str) -> Any:  # name, delegate, input_size, preprocess, last_timings
        return getattr(self._model, name)

    def estimate(self, rgb: Any, margin: float = 0.0) -> Any:
        self._calls += 1
        if self._calls > self._free:
            print(f"hung_kiosk: the model hangs in estimate {self._calls}", file=sys.stderr, flush=True)
            threading.Event().wait()
        return self._model.estimate(rgb, margin)


def main(argv: list[str]) -> int:
    free = int(argv[0])
    parser = argparse.ArgumentParser(prog="hung_kiosk")
    sub = parser.add_subparsers(dest="command", required=True)
    run_cmd.register(sub.add_parser("run"))
    args = parser.parse_args(argv[1:])

    def load_model(config: KioskConfig) -> components.LoadedModel:
        loaded = components.load_model(config)
        return dataclasses.replace(loaded, model=HangingModel(loaded.model, free))

    return run_cmd.run(args, factories=Factories(load_model=load_model))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
