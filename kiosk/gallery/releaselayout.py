"""The release layout on a kiosk: its names, locks, links and the pending record (the one
owner of this layout; the transactions on it are in releases.py).

Under the index root (KIOSK_INDEX_ROOT; /var/lib/move-mirror/index on an installed kiosk):

    releases/<index-id>/            one directory per deployed index (named by its manifest's index id)
    releases/.incoming-<index-id>/  upload staging (rsync --partial: a re-run resumes it)
    current  -> releases/<id>       what the kiosk serves (replaced by rename(2), never deleted first)
    previous -> releases/<id>       what a rollback returns to
    .pending.json                   an activation not yet confirmed healthy (the dead-man switch)
    .lock                           flock held by every change (short)
    .deploy.lock                    flock held for a whole deploy session (`kiosk releases hold`)
    configs/                        configs deployed with `kiosk deploy --config` (configstore.py)
    current-config -> configs/<sha>.yaml   the deployed config served with current (absent: none)
    previous-config -> configs/<sha>.yaml  the one that goes with previous (restored by a rollback)

The running kiosk reads its own kiosk.yaml with `current-config` over it (`deployed_config`):
both links are switched, recorded and reverted with `current` and `previous`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from kiosk.core.locks import LockBusy, flock
from kiosk.gallery.configstore import INCOMING, ConfigStore

log = logging.getLogger(__name__)

RELEASES = "releases"
CURRENT = "current"
PREVIOUS = "previous"
CURRENT_CONFIG = "current-config"
PREVIOUS_CONFIG = "previous-config"
PENDING = ".pending.json"
OP_LOCK = ".lock"
SESSION_LOCK = ".deploy.lock"
PARTIAL_DIR = ".rsync-partial"
DEFAULT_RELOAD = "systemctl reload move-mirror"
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
#: headroom asked for beyond the upload itself: 10 % plus this many bytes
SPACE_MARGIN = 1024 * 1024


class ReleaseError(RuntimeError):
    """A release operation cannot be done; the message says why and what to do."""


def check_id(index_id: str) -> str:
    if not ID_RE.match(index_id):
        raise ReleaseError(f"index id {index_id!r} has characters unsafe in a path "
                           "(expected letters, digits, '.', '_', '-')")
    return index_id


@dataclass
class Pending:
    """An activation waiting for its health check to be confirmed."""

    token: str
    release: str               # the index id activated
    old_current: str | None    # link targets before the activation ("releases/<id>" or None)
    old_previous: str | None
    deadline_unix: float
    reload_cmd: str
    created_unix: float
    old_config: str | None = None           # config link targets before ("configs/<sha>.yaml")
    old_previous_config: str | None = None


class ReleaseLayout:
    """One kiosk's index root: paths, locks, links and the pending record."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.releases = self.root / RELEASES
        self.configs = ConfigStore(self.root)

    # ---- paths ------------------------------------------------------------------------
    def release_dir(self, index_id: str) -> Path:
        return self.releases / check_id(index_id)

    def staging_dir(self, index_id: str) -> Path:
        return self.releases / f"{INCOMING}{check_id(index_id)}"

    @staticmethod
    def link_target(index_id: str) -> str:
        return f"{RELEASES}/{check_id(index_id)}"

    def _read_link(self, name: str) -> str | None:
        try:
            return os.readlink(self.root / name)
        except OSError:
            return None

    @staticmethod
    def id_of(target: str | None) -> str | None:
        return None if not target else Path(target).name

    def current_id(self) -> str | None:
        return self.id_of(self._read_link(CURRENT))

    # ---- locks ------------------------------------------------------------------------
    def _flock(self, name: str, wait: float, what: str) -> contextlib.AbstractContextManager[int]:
        return flock(self.root / name, wait, f"{what} on {self.root}")

    @contextlib.contextmanager
    def locked(self, wait: float = 30) -> Iterator[None]:
        """The short lock every change takes (and the dead-man watcher)."""
        with self._flock(OP_LOCK, wait, "another release operation"):
            yield

    @contextlib.contextmanager
    def session(self, owner: str, wait: float = 0) -> Iterator[None]:
        """The deploy-session lock: one deploy at a time per kiosk."""
        with self._flock(SESSION_LOCK, wait, "another deploy") as fd:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"deploy by {owner}, pid {os.getpid()}, since {time.ctime()}".encode(), 0)
            yield

    def session_busy(self) -> bool:
        if not (self.root / SESSION_LOCK).exists():
            return False
        try:
            with self._flock(SESSION_LOCK, 0, "another deploy"):
                return False
        except LockBusy:
            return True

    # ---- pending activation -----------------------------------------------------------
    def pending(self) -> Pending | None:
        try:
            data = json.loads((self.root / PENDING).read_text())
            return Pending(**data)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError) as exc:
            log.warning("ignoring an unreadable %s (%s)", self.root / PENDING, exc)
            return None

    def _write_pending(self, pending: Pending) -> None:
        tmp = self.root / f"{PENDING}.tmp"
        tmp.write_text(json.dumps(asdict(pending), indent=1) + "\n")
        os.replace(tmp, self.root / PENDING)

    def _clear_pending(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.root / PENDING).unlink()

    # ---- links ------------------------------------------------------------------------
    def _set_link(self, name: str, target: str | None) -> None:
        """Point `name` at target by rename(2) of a fresh link (None: remove it)."""
        path = self.root / name
        if target is None:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            return
        tmp = self.root / f".{name}.new"
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        tmp.symlink_to(target)
        os.replace(tmp, path)

    def _check_links(self) -> None:
        for name in (CURRENT, PREVIOUS):
            path = self.root / name
            if path.exists() and not path.is_symlink():
                raise ReleaseError(f"{path} exists but is not a symlink; move it to "
                                   f"{self.releases}/<its index id> and make {name} a symlink to it")
