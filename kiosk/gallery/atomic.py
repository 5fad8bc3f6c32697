"""Atomic output: an index directory appears complete or not at all.

The builder writes into a hidden temp directory beside OUT_DIR (same file system), then
`swap_into_place` renames it over OUT_DIR: with renameat2(RENAME_EXCHANGE) on Linux the old and
new directories trade places in one step, elsewhere two renames leave OUT_DIR absent for an
instant (never half-written). Temp directories of killed builds are removed by the next build.
"""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import uuid
from pathlib import Path

from kiosk.gallery import manifest as mf

log = logging.getLogger(__name__)


class BuildError(Exception):
    """The build cannot run (bad arguments, OUT_DIR not an index, nothing kept)."""


class NothingKept(BuildError):
    """Every frame was discarded: nothing was written. `rejected` lists why, one line each."""

    def __init__(self, sources: int, frames: int, out: Path, rejected: str) -> None:
        self.sources, self.frames, self.rejected = sources, frames, rejected
        super().__init__(
            f"no entries kept from {sources} source(s) and {frames} frame(s); nothing written"
            f" to {out} (relax the filters, e.g. --partial-body, or add photos of whole people)."
            f" Rejected:\n{rejected}")


def check_out_dir(out: Path) -> None:
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise BuildError(f"{out}: exists and is not a directory; choose another -o OUT_DIR")
    if out.is_dir() and any(out.iterdir()) and not (out / mf.MANIFEST).is_file():
        raise BuildError(
            f"{out}: exists, is not empty and is not an index; refusing to replace it"
            " (choose another -o OUT_DIR or remove it)"
        )


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux renameat2 RENAME_EXCHANGE); False if unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    rc = fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    return rc == 0


def clean_stale(out: Path) -> None:
    """Remove temp dirs left next to out by builds that were killed (their pid is gone)."""
    for p in out.parent.glob(f".{out.name}.building-*"):
        try:
            pid = int(p.name.rsplit(".building-", 1)[1].split("-")[0])
            os.kill(pid, 0)
        except ProcessLookupError:
            log.info("removing %s, left by an interrupted build", p)
            shutil.rmtree(p, ignore_errors=True)
        except (ValueError, IndexError, PermissionError):
            continue


def swap_into_place(tmp: Path, out: Path) -> None:
    """Make tmp appear at out; any previous out is removed afterwards."""
    if out.exists():
        if _exchange(tmp, out):
            shutil.rmtree(tmp, ignore_errors=True)
            return
        old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
        os.rename(out, old)
        os.rename(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(tmp, out)
