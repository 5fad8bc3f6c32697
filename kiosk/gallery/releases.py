"""The transactions on a kiosk's release layout (releaselayout.py owns the layout itself).

An activation is a transaction: `activate` records `.pending.json` (the links before, a deadline,
the reload command), switches the links and reloads; `confirm` ends it. If nobody confirms by the
deadline (the deploying machine died mid-health-check), the detached watcher `activate` started,
or any later `kiosk releases` call, puts the links back and reloads. A new activation first
reverts an unconfirmed one.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import asdict
from pathlib import Path
from typing import Any

from kiosk.gallery.configstore import INCOMING, ConfigRefused
from kiosk.gallery.releaselayout import (
    CURRENT,
    CURRENT_CONFIG,
    PARTIAL_DIR,
    PREVIOUS,
    PREVIOUS_CONFIG,
    SPACE_MARGIN,
    Pending,
    ReleaseError,
    ReleaseLayout,
    check_id,
)

log = logging.getLogger(__name__)


def _tree_bytes(path: Path) -> int:
    """Bytes of the files under path (a staging or incoming tree; unreadable ones count 0)."""
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, name)).st_size
    return total


def run_reload(cmd: str, timeout: float = 60) -> tuple[int, str]:
    """Run the operator's reload command (a shell command line by design; no names in it)."""
    if not cmd:
        return 0, ""
    try:
        proc = subprocess.run(["sh", "-c", cmd], capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return 124, f"timed out after {timeout:g}s"
    return proc.returncode, (proc.stdout + proc.stderr).strip()


class ReleaseRoot(ReleaseLayout):
    """One kiosk's index root, and the transactions on it."""

    # ---- queries ----------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        """Everything a deploy needs to know, as JSON-able data."""
        releases, staging = [], []
        if self.releases.is_dir():
            for p in sorted(self.releases.iterdir()):
                if not p.is_dir() or p.is_symlink():
                    continue
                item = {"id": p.name, "mtime_unix": p.stat().st_mtime}
                if p.name.startswith(INCOMING):
                    item = {"id": p.name[len(INCOMING):], "bytes": _tree_bytes(p)}
                    staging.append(item)
                elif not p.name.startswith("."):
                    releases.append(item)
        probe = self.root if self.root.exists() else next(
            (p for p in self.root.parents if p.exists()), Path("/"))
        st = os.statvfs(probe)
        pending = self.pending()
        current = self._read_link(CURRENT)
        last = None
        if current and (self.root / CURRENT).is_symlink():
            last = (self.root / CURRENT).lstat().st_mtime
        return {"root": str(self.root), "current": current, "previous": self._read_link(PREVIOUS),
                "current_id": self.id_of(current), "previous_id": self.id_of(self._read_link(PREVIOUS)),
                "current_is_link": not (self.root / CURRENT).exists() or (self.root / CURRENT).is_symlink(),
                "releases": releases, "staging": staging, "avail_bytes": st.f_bavail * st.f_frsize,
                "config_sha": self.configs.sha_of(self._read_link(CURRENT_CONFIG)),
                "previous_config_sha": self.configs.sha_of(self._read_link(PREVIOUS_CONFIG)),
                "pending": asdict(pending) if pending else None, "last_deploy_unix": last,
                "deploy_in_progress": self.session_busy()}

    # ---- staging ----------------------------------------------------------------------
    def stage(self, index_id: str, need_bytes: int, *, session: bool = True) -> dict[str, Any]:
        """Make releases/.incoming-<id> for an upload of need_bytes; fails (leaving nothing) when
        the disk cannot hold it. Abandoned stagings of other indexes are removed first when this
        caller holds the deploy session (so nobody else is uploading)."""
        check_id(index_id)
        with self.locked():
            self._check_links()
            if self.release_dir(index_id).is_dir():
                return {"release_exists": True, "staging": None, "staged_bytes": 0}
            if session:
                for p in self.releases.glob(f"{INCOMING}*"):
                    if p.name != f"{INCOMING}{index_id}":
                        log.info("removing %s, an abandoned upload", p)
                        shutil.rmtree(p, ignore_errors=True)
            staging = self.staging_dir(index_id)
            staged = _tree_bytes(staging) if staging.is_dir() else 0
            self.releases.mkdir(parents=True, exist_ok=True)
            st = os.statvfs(self.releases)
            avail = st.f_bavail * st.f_frsize
            missing = max(0, need_bytes - staged)
            need = missing + missing // 10 + SPACE_MARGIN
            if avail < need:
                self.drop(index_id, locked=True)
                raise ReleaseError(f"not enough disk space on the host: need about {need // 2**20} MB, "
                                   f"{avail // 2**20} MB free under {self.root}; free space or prune "
                                   "old releases (kiosk releases prune --keep 1)")
            staging.mkdir(exist_ok=True)
            return {"release_exists": False, "staging": str(staging), "staged_bytes": staged,
                    "avail_bytes": avail}

    def drop(self, index_id: str, *, locked: bool = False) -> bool:
        """Remove the staging directory of index_id (a failed or corrupt upload)."""
        staging = self.staging_dir(index_id)
        with contextlib.nullcontext() if locked else self.locked():
            existed = staging.exists()
            shutil.rmtree(staging, ignore_errors=True)
            return existed

    def promote(self, index_id: str, check: Any) -> dict[str, Any]:
        """Verify the staging dir with check(path) -> [problems] and rename it to releases/<id>.
        A staging that fails is removed (the next deploy uploads afresh); a release already in
        place is verified again."""
        staging, release = self.staging_dir(index_id), self.release_dir(index_id)
        with self.locked():
            target = release if release.is_dir() else staging
            if not target.is_dir():
                raise ReleaseError(f"nothing uploaded for {index_id}: no {staging}")
            shutil.rmtree(target / PARTIAL_DIR, ignore_errors=True)
            problems = list(check(target))
            if problems:
                if target == staging:
                    shutil.rmtree(staging, ignore_errors=True)
                elif index_id not in (self.id_of(self._read_link(CURRENT)),
                                      self.id_of(self._read_link(PREVIOUS))):
                    shutil.rmtree(release, ignore_errors=True)
                raise ReleaseError("verification failed on the host: " + "; ".join(problems[:5]))
            if target == staging:
                if release.exists():
                    shutil.rmtree(staging)
                else:
                    os.rename(staging, release)
            return {"release": str(release), "verified": True}

    # ---- activation transaction ---------------------------------------------------------
    def activate(self, index_id: str, *, confirm_within: float, reload_cmd: str, reload: bool = True,
                 config: str | None = None) -> dict[str, Any]:
        """current -> releases/<id> (previous -> the old current), and current-config ->
        configs/<config>.yaml when a config sha256 is given (else the deployed config stays),
        recorded as pending until `confirm`, then the reload command. Returns what was done."""
        try:
            target = self.configs.target(config) if config is not None else None
        except ConfigRefused as exc:
            raise ReleaseError(str(exc)) from None
        return self._activate(index_id, confirm_within=confirm_within, reload_cmd=reload_cmd,
                              reload=reload, change_config=config is not None, config_link=target)

    def _activate(self, index_id: str, *, confirm_within: float, reload_cmd: str, reload: bool,
                  change_config: bool, config_link: str | None) -> dict[str, Any]:
        release = self.release_dir(index_id)
        with self.locked():
            self._check_links()
            if not (release / "manifest.json").is_file():
                raise ReleaseError(f"{release} is not a complete release; deploy it first")
            if config_link is not None and not (self.root / config_link).is_file():
                raise ReleaseError(f"{self.root / config_link} is missing; deploy the config first")
            self._revert_pending("superseded by a new activation", reload=False)
            old_cur, old_prev = self._read_link(CURRENT), self._read_link(PREVIOUS)
            old_cfg, old_prev_cfg = self._read_link(CURRENT_CONFIG), self._read_link(PREVIOUS_CONFIG)
            new_cfg = config_link if change_config else old_cfg
            if self.id_of(old_cur) == index_id and new_cfg != old_cfg:  # a new config only
                new_prev, new_prev_cfg = old_cur, old_cfg
            else:
                new_prev, new_prev_cfg = (old_cur, old_cfg) if old_cur else (old_prev, old_prev_cfg)
                if self.id_of(new_prev) == index_id:
                    new_prev, new_prev_cfg = (old_prev, old_prev_cfg) if self.id_of(old_prev) != index_id \
                        else (None, None)
            pending = Pending(token=uuid.uuid4().hex, release=index_id, old_current=old_cur,
                              old_previous=old_prev, deadline_unix=time.time() + confirm_within,
                              reload_cmd=reload_cmd, created_unix=time.time(), old_config=old_cfg,
                              old_previous_config=old_prev_cfg)
            self._write_pending(pending)
            self._set_link(PREVIOUS_CONFIG, new_prev_cfg)
            self._set_link(PREVIOUS, new_prev)
            self._set_link(CURRENT_CONFIG, new_cfg)
            self._set_link(CURRENT, self.link_target(index_id))
            os.utime(release)
        self.spawn_watcher()
        code, out = run_reload(reload_cmd) if reload else (0, "")
        return {"current": self.link_target(index_id), "previous": self._read_link(PREVIOUS),
                "config": new_cfg, "token": pending.token, "deadline_unix": pending.deadline_unix,
                "reload_exit": code, "reload_output": out[-500:]}

    # ---- deployed configs (configstore.py) ------------------------------------------------
    def stage_config(self, sha256: str) -> dict[str, Any]:
        """Is configs/<sha256>.yaml here? If not, where to upload it."""
        return self._in_store(self.configs.stage, sha256)

    def install_config(self, sha256: str) -> dict[str, Any]:
        """Check the uploaded config by sha256 and move it into configs/."""
        return self._in_store(self.configs.install, sha256)

    def _in_store(self, op: Any, sha256: str) -> dict[str, Any]:
        with self.locked():
            try:
                return op(sha256)
            except ConfigRefused as exc:
                raise ReleaseError(str(exc)) from None

    def confirm(self, index_id: str) -> dict[str, Any]:
        with self.locked():
            pending = self.pending()
            if pending is None:
                if self.id_of(self._read_link(CURRENT)) == index_id:
                    return {"confirmed": True, "note": "nothing pending"}
                raise ReleaseError(f"no pending activation of {index_id} (reverted after its deadline?)")
            if pending.release != index_id:
                raise ReleaseError(f"the pending activation is of {pending.release}, not {index_id}")
            self._clear_pending()
            return {"confirmed": True}

    def revert(self, reason: str, *, reload: bool = True) -> dict[str, Any]:
        """Undo the pending activation now (the deploy's health check failed)."""
        with self.locked():
            return self._revert_pending(reason, reload=reload)

    def _revert_pending(self, reason: str, *, reload: bool) -> dict[str, Any]:
        pending = self.pending()
        if pending is None:
            return {"reverted": False}
        log.warning("reverting the activation of %s (%s): current -> %s", pending.release, reason,
                    pending.old_current)
        self._set_link(PREVIOUS_CONFIG, pending.old_previous_config)
        self._set_link(PREVIOUS, pending.old_previous)
        self._set_link(CURRENT_CONFIG, pending.old_config)
        self._set_link(CURRENT, pending.old_current)
        self._clear_pending()
        code, out = run_reload(pending.reload_cmd) if reload else (0, "")
        return {"reverted": True, "release": pending.release, "current": pending.old_current,
                "config": pending.old_config,
                "reload_exit": code, "reload_output": out[-500:]}

    def expire(self, now: float | None = None, *, reload: bool = True) -> dict[str, Any]:
        """Revert a pending activation whose deadline has passed (the dead-man switch). The
        running kiosk calls this too (reload=False: it reloads itself)."""
        now = time.time() if now is None else now
        pending = self.pending()
        if pending is None or pending.deadline_unix > now:
            return {"reverted": False}
        with self.locked():
            pending = self.pending()
            if pending is None or pending.deadline_unix > now:
                return {"reverted": False}
            return self._revert_pending("not confirmed before its deadline", reload=reload)

    @classmethod
    def of_index_path(cls, index_path: Path) -> ReleaseRoot | None:
        """The release root an index path `<root>/current` belongs to (None for a plain index)."""
        return cls(index_path.parent) if index_path.name == CURRENT else None

    def watch(self, token: str, poll: float = 0.5) -> dict[str, Any]:
        """Wait for the pending activation `token` to be confirmed or superseded; revert it at its
        deadline otherwise. Run detached by `activate`."""
        while True:
            pending = self.pending()
            if pending is None or pending.token != token:
                return {"reverted": False}
            if time.time() >= pending.deadline_unix:
                return self.expire()
            time.sleep(min(poll, max(0.05, pending.deadline_unix - time.time())))

    def spawn_watcher(self) -> None:
        pending = self.pending()
        if pending is None:
            return
        argv = [sys.executable, "-m", "kiosk", "releases", "--index-root", str(self.root),
                "watch", pending.token]
        subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)

    def rollback(self, *, confirm_within: float, reload_cmd: str, reload: bool = True) -> dict[str, Any]:
        """Activate `previous` with its config (the old current becomes previous): a pending
        activation too."""
        prev = self.id_of(self._read_link(PREVIOUS))
        if prev is None:
            raise ReleaseError("no previous release to roll back to")
        if not self.release_dir(prev).is_dir():
            raise ReleaseError(f"previous release {prev} is missing on the host")
        return self._activate(prev, confirm_within=confirm_within, reload_cmd=reload_cmd, reload=reload,
                              change_config=True, config_link=self._read_link(PREVIOUS_CONFIG))

    # ---- pruning ----------------------------------------------------------------------
    def prune(self, keep: int, *, dry_run: bool = False, staging: bool = True) -> dict[str, Any]:
        """Keep the `keep` newest releases, always current, previous and a pending one's old
        links; remove abandoned stagings too when `staging` (the caller holds the session)."""
        if keep < 1:
            raise ReleaseError("--keep must be at least 1")
        with contextlib.nullcontext() if dry_run else self.locked():
            protected = {self.id_of(self._read_link(CURRENT)), self.id_of(self._read_link(PREVIOUS))}
            pending = self.pending()
            if pending:
                protected |= {pending.release, self.id_of(pending.old_current),
                              self.id_of(pending.old_previous)}
            rels = [p for p in self.releases.iterdir() if p.is_dir() and not p.name.startswith(".")] \
                if self.releases.is_dir() else []
            rels.sort(key=lambda p: p.stat().st_mtime, reverse=True)
            deleted = [p.name for n, p in enumerate(rels, 1) if n > keep and p.name not in protected]
            stale = [p.name for p in self.releases.glob(f"{INCOMING}*")] if staging else []
            configs = self._unused_configs(pending, staging)
            if not dry_run:
                for name in deleted + stale:
                    shutil.rmtree(self.releases / name, ignore_errors=True)
                for path in configs:
                    path.unlink(missing_ok=True)
            return {"deleted": deleted, "deleted_staging": stale, "dry_run": dry_run,
                    "deleted_configs": [p.name for p in configs]}

    def _unused_configs(self, pending: Pending | None, staging: bool) -> list[Path]:
        """Deployed configs (and uploads) no link nor pending activation names, when `staging` (the
        caller holds the deploy session, so no upload of a config is waiting for its activation)."""
        used = {self._read_link(CURRENT_CONFIG), self._read_link(PREVIOUS_CONFIG)}
        if pending:
            used |= {pending.old_config, pending.old_previous_config}
        return self.configs.unused(used) if staging else []


def deployed_config(index_path: Path) -> tuple[Path, str] | None:
    """The deployed config served with `<root>/current` (the file current-config names, and its
    sha256), or None when there is none."""
    root = ReleaseRoot.of_index_path(index_path)
    target = root._read_link(CURRENT_CONFIG) if root is not None else None
    if root is None or target is None:
        return None
    return root.root / target, str(root.configs.sha_of(target))


def expire_for_index(index_path: Path) -> bool:
    """For the running kiosk: revert an activation of `<root>/current` nobody confirmed in time
    (the deploying machine died, or this kiosk rebooted mid-deploy). True when it reverted (the
    caller reloads). Problems are logged, never raised: the kiosk keeps running."""
    root = ReleaseRoot.of_index_path(index_path)
    if root is None:
        return False
    try:
        if root.expire(reload=False)["reverted"]:
            log.warning("reverted an activation of %s that was not confirmed in time", root.root)
            return True
    except (ReleaseError, OSError) as exc:
        log.warning("cannot revert the unconfirmed activation in %s: %s", root.root, exc)
    return False
