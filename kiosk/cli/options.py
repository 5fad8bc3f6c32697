"""Help texts and value types of the options several `kiosk` commands share (one wording, one place)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from kiosk.core.enums import Delegate, Preprocess

DELEGATE = (f"where the model runs: {Delegate.AUTO} (the Edge TPU if present, else the CPU), "
            f"{Delegate.CPU} or {Delegate.EDGETPU} (default: %(default)s)")
PREPROCESS = (f"fitting the image to the model input: {Preprocess.DEFAULT} (keep the aspect ratio, pad) "
              f"or {Preprocess.CORAL} (stretch, nearest neighbour, as Coral's demos) (default: %(default)s)")
MODELS_DIR = "directory of the model files (default: $KIOSK_MODELS_DIR, else <checkout>/models)"
NUM_THREADS = "CPU interpreter threads (default: the interpreter's choice)"
INDEX_DIR = "the index directory (made by `kiosk index build`)"
K = "how many nearest entries to list per photo (default: %(default)s)"


def int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number >= minimum, refused with the option's value named."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{text} must be at least {minimum}")
        return value
    parse.__name__ = f"int >= {minimum}"
    return parse


def match_distance(key: str) -> Callable[[str], float]:
    """An argparse type: a number for the float config key match.<key> (max_distance, ...),
    checked by the config's own rules (kiosk.app.service.config.MatchConfig: range, NaN)."""
    import dataclasses

    from kiosk.app.service.config import MatchConfig

    if key not in {f.name for f in dataclasses.fields(MatchConfig) if f.type in ("float", float)}:
        raise ValueError(f"match.{key} is not a float key of the config")

    def parse(text: str) -> float:
        from kiosk.app.service.config import parse_config
        from kiosk.app.service.schema import ConfigError

        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        try:
            parse_config({"match": {key: value}})
        except ConfigError as e:
            raise argparse.ArgumentTypeError("; ".join(e.problems)) from None
        return value
    parse.__name__ = f"match.{key}"
    return parse
