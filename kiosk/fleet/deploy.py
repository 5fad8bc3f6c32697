"""`kiosk deploy`: one host's deploy (or rollback), step by step, as a result record.

Steps per host: connect (one ssh master) -> take the kiosk's deploy lock (`kiosk releases hold`)
-> probe (`kiosk releases list`) -> the model the index names (uploaded when missing) -> stage
(free space checked on the kiosk) -> rsync into the staging dir (resumable) -> promote (`kiosk
index verify` on the kiosk, then rename into releases/) -> the config (`--config`: uploaded,
checked by sha256, into configs/) -> activate (pending, with a deadline)
-> reload -> health check (`kiosk status --json` until the new index is served) -> confirm ->
prune. A failed health check reverts the activation; a deploy that dies before confirming is
reverted by the kiosk itself at the deadline.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.fleet.localindex import LocalIndex
from kiosk.fleet.remote import KioskMissing, RemoteError, RemoteKiosk
from kiosk.fleet.ssh import Connection, SshError, SshOptions, Target

log = logging.getLogger(__name__)

#: where a test may pause a deploy (to kill it there): see DeploySettings.pause_at
PAUSE_POINTS = ("lock", "upload", "switch", "reload", "health", "confirm", "done")


class HostFailed(RuntimeError):
    """This host's deploy failed; the message is the result's detail."""


@dataclass(frozen=True)
class DeploySettings:
    ssh: SshOptions = field(default_factory=SshOptions)
    remote_kiosk: str = "kiosk"
    index_root: str | None = None
    models_dir: str | None = None
    reload_cmd: str = "systemctl reload move-mirror"
    status_timeout: float = 30
    confirm_within: float = 120
    keep: int = 3
    command_timeout: float = 600
    rsync_path: str | None = None
    bwlimit: int | None = None
    lock_wait: float = 0
    dry_run: bool = False
    pause_at: str | None = None     # test hook: pause here (printing "test pause at X")
    pause_seconds: float = 30


@dataclass
class HostResult:
    host: str
    result: str = "FAILED"          # ok | dry-run | FAILED
    seconds: float = 0.0
    detail: str = ""
    index_id: str | None = None
    current: str | None = None
    steps: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"host": self.host, "result": self.result, "seconds": round(self.seconds, 1),
                "detail": self.detail, "index_id": self.index_id, "current": self.current,
                "steps": self.steps}


Say = Callable[[str], None]


class HostDeploy:
    """The deploy (or rollback) of one host."""

    def __init__(self, target: Target, settings: DeploySettings, index: LocalIndex | None,
                 say: Say, workdir: Path) -> None:
        self.target, self.s, self.index, self.workdir = target, settings, index, workdir
        self._say = say
        self.result = HostResult(host=target.spec, index_id=index.id if index else None)
        self.conn = Connection(target, settings.ssh, workdir)
        self.kiosk = RemoteKiosk(self.conn, settings.remote_kiosk, settings.index_root,
                                 settings.models_dir, settings.command_timeout)
        self.info: dict[str, Any] = {}

    def say(self, text: str) -> None:
        self.result.steps.append(text)
        self._say(f"[{self.target.spec}] {text}")

    def pause(self, point: str) -> None:
        if self.s.pause_at == point:
            self._say(f"[{self.target.spec}] test pause at {point}")
            time.sleep(self.s.pause_seconds)

    # ---- the run ----------------------------------------------------------------------
    def run(self) -> HostResult:
        start = time.monotonic()
        lock = None
        try:
            self.conn.open()
            if not self.s.dry_run:
                lock = self.kiosk.hold_lock(f"kiosk deploy from {os.uname().nodename}", self.s.lock_wait)
                self.pause("lock")
            model = self.index.model if self.index else None
            self.info = self.kiosk.releases("list", *(("--model", model.name, model.sha256) if model else ()))
            self.say(f"index root {self.info['root']}; current -> {self.info['current'] or 'none'}; "
                     f"previous -> {self.info['previous'] or 'none'}")
            if not self.info.get("current_is_link", True):
                raise HostFailed(f"{self.info['root']}/current exists but is not a symlink; move it to "
                                 "releases/<its index id> and make current a symlink to it")
            detail = self._deploy() if self.index else self._rollback()
            self.result.result, self.result.detail = ("dry-run", "nothing changed") if self.s.dry_run \
                else ("ok", detail)
        except (HostFailed, RemoteError, SshError) as exc:
            self.result.detail = str(exc)
            self._say(f"[{self.target.spec}] FAILED: {exc}")
        finally:
            if lock is not None:
                RemoteKiosk.release_lock(lock)
            self.conn.close()
            self.result.seconds = time.monotonic() - start
        return self.result

    # ---- deploy -----------------------------------------------------------------------
    def _deploy(self) -> str:
        assert self.index is not None
        index_id = self.index.id
        pending = self.info.get("pending")
        config = self.index.config
        new_config = config is not None and self.info.get("config_sha") != config.sha256
        if self.info["current_id"] == index_id and not pending and not new_config:
            return self._already_current(index_id)
        have = any(r["id"] == index_id for r in self.info["releases"])
        self._ensure_model()
        if self.s.dry_run:
            return self._plan(index_id, have)
        if not have:
            staged = self.kiosk.releases("stage", index_id, "--bytes", str(self.index.bytes))
            have = bool(staged.get("release_exists"))
        if not have:
            self.say(f"uploading {self.index.bytes // 1024} KB to releases/.incoming-{index_id}"
                     f" ({staged['staged_bytes'] // 1024} KB already there)")
            self._upload(staged["staging"])
        else:
            self.say(f"releases/{index_id} already on the host; not uploading")
        try:
            self.kiosk.releases("promote", index_id, timeout=self.s.command_timeout + 60)
        except RemoteError as exc:
            raise HostFailed(str(exc) if "verification failed" in str(exc)
                             else f"verification failed on the host: {exc}") from None
        self.say("verified on the host")
        self._ship_config()
        return self._activate(index_id)

    def _ship_config(self) -> None:
        """The config deployed with the index: uploaded into configs/ unless already there."""
        assert self.index is not None
        config = self.index.config
        if config is None:
            return
        found = self.kiosk.releases("config", config.sha256)
        if not found["present"]:
            self._rsync(str(config.path), found["staging"], ["-t", "--chmod=F0644"])
            self.kiosk.releases("config", config.sha256, "--install")
        self.say(f"config {config.path.name} (sha256 {config.sha256[:12]}…) verified on the host")

    def _already_current(self, index_id: str) -> str:
        if self.s.dry_run:
            self.say(f"would do nothing: {index_id} is already current (would check kiosk status)")
            return "already current"
        health = self.kiosk.wait_for(index_id, min(self.s.status_timeout, 3))
        if health.healthy and health.index_id == index_id:
            self.say("already current and serving")
            return f"current -> releases/{index_id} (already current)"
        self.say(f"{index_id} is already current but the kiosk reports {health.summary}; reloading")
        self._reload()
        health = self.kiosk.wait_for(index_id, self.s.status_timeout)
        if not (health.healthy and health.index_id == index_id):
            raise HostFailed(f"health check: after {self.s.status_timeout:g}s the kiosk reports "
                             f"{health.summary}, not {index_id}")
        return f"current -> releases/{index_id} (already current, reloaded)"

    def _plan(self, index_id: str, have: bool) -> str:
        assert self.index is not None
        if have:
            self.say(f"would skip the upload: releases/{index_id} already on the host")
        else:
            staged = next((s["bytes"] for s in self.info["staging"] if s["id"] == index_id), 0)
            self.say(f"would upload {self.index.bytes // 1024} KB ({staged // 1024} KB already staged; "
                     f"{self.info['avail_bytes'] // 2**20} MB free) to "
                     f"{self.target.host}:{self.info['root']}/releases/.incoming-{index_id}")
        self.say(f"would verify with '{self.s.remote_kiosk} index verify', rename to releases/{index_id}")
        if self.index.config is not None:
            self.say(f"would upload the config {self.index.config.path} to configs/ and serve it with "
                     f"{index_id} (sha256 {self.index.config.sha256[:12]}…)")
        self.say(f"would switch current -> releases/{index_id} (previous -> "
                 f"{self.info['current'] or 'none'}), reload with '{self.s.reload_cmd}'")
        self.say(f"would wait up to {self.s.status_timeout:g}s for '{self.s.remote_kiosk} status --json' "
                 f"to report {index_id}, else roll back")
        plan = self.kiosk.releases("prune", "--keep", str(self.s.keep), "--dry-run")
        gone = " ".join(plan.get("deleted", []))
        tail = f"; would delete after success: {gone}" if gone else ""
        self.say(f"would keep {self.s.keep} releases{tail}")
        return "dry run"

    def _ensure_model(self) -> None:
        assert self.index is not None
        model = self.index.model
        if model is None:
            return
        found = self.info["model"]
        if found["present"]:
            return
        if self.s.dry_run:
            self.say(f"would upload the model {model.name} ({len(model.files)} file(s)) to "
                     f"{found['models_dir']}")
            return
        found = self.kiosk.releases("model", model.name, model.sha256)  # makes its upload dir
        self.say(f"uploading the model {model.name} to {found['models_dir']}")
        self._rsync(str(model.root) + "/", found["staging"] + "/",
                    ["-rlt", "--chmod=D0755,F0644", "--partial", "--files-from=-", "--from0"],
                    stdin="\0".join(model.files) + "\0")
        self.kiosk.releases("model", model.name, model.sha256, "--install")
        self.say(f"model {model.name} installed (sha256 {model.sha256[:12]}… verified on the host)")

    def _rsync(self, src: str, dest: str, opts: list[str], stdin: str | None = None
               ) -> subprocess.CompletedProcess:
        extra = [*opts, f"--timeout={self.s.ssh.io_timeout}"]
        if self.s.bwlimit:
            extra.append(f"--bwlimit={self.s.bwlimit}")
        argv = self.conn.rsync_argv(src, dest, rsync_path=self.s.rsync_path, extra=extra)
        proc = subprocess.run(argv, input=stdin, capture_output=True, text=True)
        if proc.returncode != 0:
            self._upload_failed(proc)
        return proc

    def _upload(self, staging: str) -> None:
        assert self.index is not None
        opts = ["-rlt", "--perms", "--chmod=D0755,F0644", "--partial", f"--partial-dir={PARTIAL}",
                "--delete"]
        src = f"{self.index.path}/"
        if self.s.pause_at == "upload":  # test hook: half of the files, then the pause
            half = self.index.files()[: (len(self.index.files()) + 1) // 2]
            proc = subprocess.run(self.conn.rsync_argv(src, staging + "/", rsync_path=self.s.rsync_path,
                                                       extra=[*opts, "--files-from=-", "--from0"]),
                                  input="\0".join(half) + "\0", capture_output=True, text=True)
            self.say(f"test: uploaded {len(half)} files first (rsync exit {proc.returncode})")
            self.pause("upload")
        proc = self._rsync(src, staging + "/", [*opts, "--stats"])
        stats = {k: v for k, _, v in (ln.partition(": ") for ln in proc.stdout.splitlines()) if v}
        self.say(f"uploaded: {stats.get('Total transferred file size', '?')} (sent "
                 f"{stats.get('Literal data', '?')}, reused {stats.get('Matched data', '?')} from an "
                 "earlier partial upload)")

    def _upload_failed(self, proc: subprocess.CompletedProcess) -> None:
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip() and not ln.startswith("Warning")]
        first = lines[0] if lines else f"rsync exit {proc.returncode}"
        if "No space left on device" in proc.stderr or "Disk quota exceeded" in proc.stderr:
            assert self.index is not None
            self.kiosk.releases("drop", self.index.id)
            raise HostFailed("upload failed: the host's disk is full (No space left on device); the "
                             "partial upload was removed. Free space or prune old releases on the host")
        if proc.returncode in (255, 12):
            raise HostFailed(f"upload failed: unreachable or connection lost ({first})")
        if proc.returncode in (30, 35):
            raise HostFailed(f"upload failed: timeout (rsync exit {proc.returncode})")
        if proc.returncode == 11:
            raise HostFailed(f"upload failed: cannot write on the host (disk full?): {first}")
        raise HostFailed(f"upload failed (rsync exit {proc.returncode}): {first}")

    # ---- the transaction --------------------------------------------------------------
    def _activate(self, index_id: str, verb_note: str = "") -> str:
        old = self.info["current_id"]
        config = self.index.config.sha256 if self.index is not None and self.index.config else None
        self.pause("switch")
        # a rollback is the kiosk's `rollback`: previous with the config deployed with it
        verb = ("activate", index_id, *(("--config", config) if config else ())) if self.index \
            else ("rollback",)
        self.kiosk.releases(*verb, "--no-reload", "--confirm-within", f"{self.s.confirm_within:g}",
                            "--reload-cmd", self.s.reload_cmd)
        self.say(f"switched current -> releases/{index_id}{verb_note} (the kiosk reverts it unless "
                 f"confirmed within {self.s.confirm_within:g}s)")
        self.pause("reload")
        try:
            self._reload()
            self.pause("health")
            health = self.kiosk.wait_for(index_id, self.s.status_timeout, config)
            if not (health.healthy and health.index_id == index_id and config in (None, health.config)):
                with_config = f" with config {config[:12]}" if config else ""
                raise HostFailed(f"health check: after {self.s.status_timeout:g}s the kiosk reports "
                                 f"{health.summary}, not {index_id}{with_config}")
        except HostFailed as exc:
            raise HostFailed(self._revert(str(exc), old)) from None
        self.say(f"kiosk serves {index_id} ({health.summary})")
        self.pause("confirm")
        prune = ("--prune", str(self.s.keep)) if self.index is not None else ()
        pruned = self.kiosk.releases("confirm", index_id, *prune).get("pruned") or {}
        gone = pruned.get("deleted", []) + [f".incoming-{i}" for i in pruned.get("deleted_staging", [])]
        if gone:
            self.say(f"deleted old releases: {' '.join(gone)}")
        self.pause("done")
        self.result.current = f"releases/{index_id}"
        return f"current -> releases/{index_id}"

    def _reload(self) -> None:
        out = self.kiosk.releases("reload", "--reload-cmd", self.s.reload_cmd)
        if out.get("reload_exit"):
            raise HostFailed(f"reload failed ('{self.s.reload_cmd}', exit {out['reload_exit']}): "
                             f"{(out.get('reload_output') or '').strip()[-200:]}")

    def _revert(self, reason: str, old_id: str | None) -> str:
        self.say(f"FAILED: {reason}; rolling back to {old_id or 'nothing'}")
        try:
            self.kiosk.releases("revert")
        except RemoteError as exc:
            return f"{reason}; ROLLBACK FAILED: {exc} (the kiosk reverts by itself at the deadline)"
        if old_id is None:
            return f"{reason}; no earlier release to roll back to, current removed"
        health = self.kiosk.wait_for(old_id, self.s.status_timeout)
        if health.healthy and health.index_id == old_id:
            return f"{reason}; rolled back to {old_id} (serving)"
        return f"{reason}; rolled back to {old_id} but the kiosk reports {health.summary}"

    # ---- rollback ---------------------------------------------------------------------
    def _rollback(self) -> str:
        prev = self.info["previous_id"]
        if prev is None:
            raise HostFailed("no previous release to roll back to")
        if not any(r["id"] == prev for r in self.info["releases"]):
            raise HostFailed(f"previous release {self.info['previous']} is missing on the host")
        if self.s.dry_run:
            self.say(f"would switch current -> {self.info['previous']} (previous -> {self.info['current']}), "
                     f"reload with '{self.s.reload_cmd}', wait for {prev}")
            return "dry run"
        detail = self._activate(prev)
        self.say(f"rolled back: kiosk serves {prev}")
        return detail


PARTIAL = ".rsync-partial"


def run_hosts(targets: list[Target], settings: DeploySettings, index: LocalIndex | None,
              parallel: int, say: Say) -> list[HostResult]:
    """Every host, at most `parallel` at once; results in the order of targets."""
    results: list[HostResult | None] = [None] * len(targets)
    workdir = Path(tempfile.mkdtemp(prefix="kiosk-deploy-"))
    gate = threading.Semaphore(parallel)

    def one(i: int) -> None:
        with gate:
            results[i] = HostDeploy(targets[i], settings, index, say, workdir).run()

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(len(targets))]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)
    return [r or HostResult(host=t.spec, detail="deploy thread died") for r, t in zip(results, targets,
                                                                                      strict=True)]


def summary_table(results: list[HostResult]) -> str:
    width = max([4, *(len(r.host) for r in results)])
    lines = ["", f"{'HOST':<{width}}  {'RESULT':<8} {'TIME':>6}  DETAIL"]
    for r in results:
        lines.append(f"{r.host:<{width}}  {r.result:<8} {r.seconds:5.0f}s  {r.detail}")
    failed = sum(r.result == "FAILED" for r in results)
    lines.append("")
    lines.append(f"deploy: {failed} of {len(results)} host(s) failed" if failed
                 else f"deploy: all {len(results)} host(s) ok")
    return "\n".join(lines)


def printer(stream: Any = None) -> Say:
    lock = threading.Lock()

    def say(text: str) -> None:
        with lock:
            print(text, file=stream or sys.stdout, flush=True)

    return say


__all__ = ["PAUSE_POINTS", "DeploySettings", "HostResult", "KioskMissing", "run_hosts", "summary_table"]
