"""An exclusive flock on a file, waited for up to a bound, with a readable "who holds it"."""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path


class LockBusy(RuntimeError):
    """Another process holds the lock; the message names it and what to do."""


@contextlib.contextmanager
def flock(path: Path, wait: float, what: str) -> Iterator[int]:
    """Hold an exclusive flock on `path` (created group-writable); raises LockBusy after `wait`
    seconds naming `what` and the holder's note (the file's text). Yields the fd."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o664)
        with contextlib.suppress(OSError):
            os.fchmod(fd, 0o664)  # the kiosk's user and the deploy user share the group
    except PermissionError:  # another user's lock file: flock works on a read-only fd too
        fd = os.open(path, os.O_RDONLY)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 512, 0).decode(errors="replace").strip() or "unknown"
                    raise LockBusy(f"{what} is in progress ({holder}); wait for it to finish, or "
                                   "retry later") from None
                time.sleep(0.1)
        yield fd
    finally:
        os.close(fd)
