"""Every environment variable the kiosk reads: its name, meaning and default, in one table.

Precedence, everywhere: command line > environment > config file > default. Modules never call
`os.environ` for a KIOSK_* name themselves: they take a parameter, and the entry points resolve
the default with `env_str` / `env_path` / `env_flag` from this table (reading an unlisted name is
an error, so the table cannot fall behind the code). docs/reference/environment.md is generated
from `ENVIRONMENT` (`python -m kiosk.cli.docgen`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path


class Scope(StrEnum):
    RUNTIME = "runtime"  # read by the kiosk package (every `kiosk` command, the service)
    SCRIPTS = "scripts"  # read by scripts/*.sh only
    TEST = "test"  # test and benchmark plumbing; never set in production


@dataclass(frozen=True)
class EnvVar:
    name: str
    meaning: str
    default: str
    scope: Scope = Scope.RUNTIME


ENVIRONMENT: tuple[EnvVar, ...] = (
    EnvVar("KIOSK_CONFIG", "the kiosk configuration file (`--config` wins)",
           "/etc/move-mirror/kiosk.yaml if it exists, else <checkout>/config/kiosk.yaml"),
    EnvVar("KIOSK_MODELS_DIR", "directory of the downloaded (and derived) model files",
           "<checkout>/models"),
    EnvVar("KIOSK_MODEL_MANIFEST", "the model manifest (names, files, sha256 pins)",
           "<checkout>/models/manifest.yaml"),
    EnvVar("KIOSK_ASSET_MIRROR", "a local folder to copy models and sample data from instead of "
           "downloading them (e.g. ../shared); `--mirror` wins", "none: download from upstream"),
    EnvVar("KIOSK_INDEX_ROOT", "where deploys put releases/<index-id>/ and the `current` symlink "
           "(`index.path` in the config wins)", "<checkout>/index"),
    EnvVar("KIOSK_CACHE_DIR", "caches: builder extraction cache, demo assets and demo index",
           "$XDG_CACHE_HOME/move-mirror or ~/.cache/move-mirror"),
    EnvVar("RUNTIME_DIRECTORY", "runtime state (the status file); set by systemd's RuntimeDirectory=",
           "$XDG_RUNTIME_DIR/move-mirror or /tmp/move-mirror-UID"),
    EnvVar("KIOSK_TFLITE_BACKEND", "force the TFLite interpreter: litert or tflite (`kiosk bench pose "
           "--backend` wins)", "litert if installed, else tflite"),
    EnvVar("KIOSK_EDGETPU_LIB", "the Edge TPU delegate library to load", "libedgetpu.so.1"),
    EnvVar("WAYLAND_DISPLAY", "set by a Wayland compositor: `schedule.power: auto` may then switch the "
           "screen off with wlr-randr", "unset"),
    EnvVar("KIOSK_NO_NUMBA", "1: use the pure-numpy paths even when numba is installed", "0"),
    EnvVar("KIOSK_DEMO_RECORDING", "scripts/demo.sh: the recording replayed as the camera",
           "pose_squats.mp4 from the cache or the asset mirror", Scope.SCRIPTS),
    EnvVar("KIOSK_DEMO_SCREENS", "scripts/demo.sh: where headless screenshots go",
           "$KIOSK_CACHE_DIR/demo-screens", Scope.SCRIPTS),
    EnvVar("KIOSK_TEST_WORKERS", "scripts/test.sh, test_np124.sh: pytest-xdist workers of the test run "
           "(0: one process)", "2", Scope.SCRIPTS),
    EnvVar("KIOSK_SKIP_NP124", "scripts/test.sh: 1 skips the numpy 1.24 leg", "0", Scope.SCRIPTS),
    EnvVar("KIOSK_SKIP_SYSTEM", "scripts/test.sh: 1 skips the system tests (install.sh and the unit in a "
           "booted bookworm container)", "0", Scope.SCRIPTS),
    EnvVar("KIOSK_TEST_ARM64", "scripts/test.sh: 1 adds the arm64 install test under qemu "
           "(scripts/test_arm64.sh)", "0", Scope.SCRIPTS),
    EnvVar("KIOSK_ARM64_PI", "scripts/test_arm64.sh: the Pi emulated, 5 (cortex-a76) or 4 (cortex-a72)",
           "5", Scope.SCRIPTS),
    EnvVar("KIOSK_ARM64_KEEP", "scripts/test_arm64.sh: 1 keeps the arm64 tree afterwards for a look", "0",
           Scope.SCRIPTS),
    EnvVar("KIOSK_ARM64_POSE_TESTS", "scripts/test_arm64.sh: the pose tests run emulated (tests/pose: all)",
           "the real-model, engine, type and preprocessing tests", Scope.SCRIPTS),
    EnvVar("KIOSK_ROOTFS_CACHE", "scripts/test_rootfs.sh, test_arm64.sh: where cached bookworm rootfs "
           "tarballs live", "/var/cache/move-mirror-test", Scope.SCRIPTS),
    EnvVar("KIOSK_ROOTFS_MAX_AGE_DAYS", "scripts/test_rootfs.sh: a cached rootfs older than this is rebuilt",
           "14", Scope.SCRIPTS),
    EnvVar("KIOSK_DEBIAN_MIRROR", "scripts/test_rootfs.sh: the Debian archive mmdebstrap reads",
           "mmdebstrap's default archive", Scope.SCRIPTS),
    EnvVar("KIOSK_BENCH_SEARCH_CHILD", "internal: marks `kiosk bench search`'s measuring subprocess",
           "unset", Scope.TEST),
)

BY_NAME: dict[str, EnvVar] = {v.name: v for v in ENVIRONMENT}


def env_str(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The variable's value, stripped; None when unset or empty. `name` must be in the table."""
    if name not in BY_NAME:
        raise KeyError(f"{name} is not in kiosk.core.settings.ENVIRONMENT; add it there first")
    value = (os.environ if environ is None else environ).get(name, "").strip()
    return value or None


def env_path(name: str, environ: Mapping[str, str] | None = None) -> Path | None:
    value = env_str(name, environ)
    return Path(value).expanduser() if value else None


def env_flag(name: str, environ: Mapping[str, str] | None = None) -> bool:
    """True when set to a non-empty value other than 0."""
    return env_str(name, environ) not in (None, "0")
