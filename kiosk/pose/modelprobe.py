"""An untrusted model file is tried in a throwaway process before the kiosk loads it.

A .tflite file is a flatbuffer the interpreter trusts: a corrupt or hostile one can abort the
process (a double free inside the interpreter), which would take `kiosk run` with it. A model
not pinned by sha256 in models/manifest.yaml (an explicit .tflite path) is therefore loaded first
in a child process (`python -m kiosk.pose.modelprobe PATH DELEGATE`) that must survive
allocate_tensors and one invoke on a blank frame within PROBE_TIMEOUT_S; only then does the
caller load it. Pinned models skip the probe.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

log = logging.getLogger(__name__)

__all__ = ["PROBE_TIMEOUT_S", "ModelRefused", "probe_model"]

PROBE_TIMEOUT_S = 120.0
_EXIT_REFUSED = 3


class ModelRefused(RuntimeError):
    """The model file failed (or crashed) its trial load; the message says how."""


def _advice(path: Path) -> str:
    return (f"{path.name} is not pinned in models/manifest.yaml, so it was tried in a throwaway process "
            "first; use a model from `kiosk models list` (kiosk models fetch) or re-export this one")


def probe_model(path: Path, delegate: str, timeout: float = PROBE_TIMEOUT_S,
                argv: Sequence[str] | None = None) -> None:
    """Load path and run one inference in a child process; raises ModelRefused unless it survives.

    argv: the child's command line instead of this module's (tests)."""
    cmd = list(argv) if argv is not None else [sys.executable, "-m", "kiosk.pose.modelprobe", str(path),
                                               delegate]
    log.info("trying the unpinned model %s in a separate process first", path)
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise ModelRefused(f"{path}: a trial load did not finish within {timeout:.0f} s; "
                           f"{_advice(path)}") from None
    if result.returncode == 0:
        return
    if result.returncode < 0:
        try:
            how = f"crashed the trial process ({signal.Signals(-result.returncode).name})"
        except ValueError:
            how = f"crashed the trial process (signal {-result.returncode})"
    else:
        lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
        how = f"cannot be used ({lines[-1] if lines else f'exit status {result.returncode}'})"
    raise ModelRefused(f"{path}: {how}; {_advice(path)}")


def _main(argv: list[str]) -> int:
    import numpy as np

    from kiosk.pose.engine import load_pose_model

    path, delegate = Path(argv[0]), argv[1]
    try:
        model = load_pose_model(path, delegate=delegate, num_threads=1, trusted=True)
        h, w = model.input_size
        model.estimate(np.zeros((h, w, 3), dtype=np.uint8))
    except Exception as exc:
        print(" ".join(f"{type(exc).__name__}: {exc}".split()), file=sys.stderr)
        return _EXIT_REFUSED
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
