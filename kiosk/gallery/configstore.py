"""The configs deployed with releases (`kiosk deploy --config`): `configs/` in an index root.

    configs/<sha256>.yaml            a deployed kiosk.yaml, named by its sha256 (never changed)
    configs/.incoming-<sha256>.yaml  its upload, checked by sha256 before it is renamed in

Which one is served, and which goes with `previous`, is said by the links `current-config` and
`previous-config` (kiosk/gallery/releases.py switches and reverts them with `current`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from pathlib import Path

log = logging.getLogger(__name__)

CONFIGS = "configs"
INCOMING = ".incoming-"
SHA_RE = re.compile(r"^[0-9a-f]{64}$")
#: a deployed config is a small YAML file; anything bigger is refused
CONFIG_LIMIT = 1 << 20


class ConfigRefused(ValueError):
    """A deployed config's name or upload is not acceptable; the message says why."""


def check_sha(sha256: str) -> str:
    if not SHA_RE.match(sha256):
        raise ConfigRefused(f"config sha256 {sha256!r} is not 64 lowercase hex digits")
    return sha256


class ConfigStore:
    """`configs/` under an index root. The caller holds the release root's lock."""

    def __init__(self, root: Path) -> None:
        self.dir = Path(root) / CONFIGS

    def file(self, sha256: str) -> Path:
        return self.dir / f"{check_sha(sha256)}.yaml"

    def staging(self, sha256: str) -> Path:
        return self.dir / f"{INCOMING}{check_sha(sha256)}.yaml"

    @staticmethod
    def target(sha256: str) -> str:
        """The link target (relative to the index root) of a deployed config."""
        return f"{CONFIGS}/{check_sha(sha256)}.yaml"

    @staticmethod
    def sha_of(target: str | None) -> str | None:
        return None if not target else Path(target).stem

    def stage(self, sha256: str) -> dict[str, object]:
        """Is configs/<sha256>.yaml here? If not, where to upload it."""
        if self.file(sha256).is_file():
            return {"present": True, "staging": None}
        if not self.dir.is_dir():
            self.dir.mkdir(parents=True)
            os.chmod(self.dir, 0o2775)  # as the index root: group mirror deploys, the kiosk reads
        return {"present": False, "staging": str(self.staging(sha256))}

    def install(self, sha256: str) -> dict[str, object]:
        """Check the upload's sha256 and rename it to configs/<sha256>.yaml (world-readable: the
        kiosk's user reads it). The upload is removed either way."""
        from kiosk.core.checksum import sha256_file

        staged = self.staging(sha256)
        try:
            if not staged.is_file():
                raise ConfigRefused(f"nothing uploaded for config {sha256}: no {staged}")
            if staged.stat().st_size > CONFIG_LIMIT:
                raise ConfigRefused(f"the uploaded config is over {CONFIG_LIMIT} bytes; not a kiosk.yaml")
            got = sha256_file(staged)
            if got != sha256:
                raise ConfigRefused(f"the uploaded config has sha256 {got}, not {sha256}; redeploy")
            os.chmod(staged, 0o644)
            os.replace(staged, self.file(sha256))
        finally:
            with contextlib.suppress(FileNotFoundError):
                staged.unlink()
        log.info("installed the deployed config %s", self.file(sha256))
        return {"present": True, "config": str(self.file(sha256))}

    def unused(self, used_targets: set[str | None]) -> list[Path]:
        """Deployed configs and uploads none of these link targets names."""
        names = {Path(t).name for t in used_targets if t}
        found = sorted(self.dir.glob("*.yaml")) if self.dir.is_dir() else []
        return [p for p in found if p.name not in names]
