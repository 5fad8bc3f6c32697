"""Where things live on disk. Every default can be overridden by an environment variable.

The environment variables and their defaults are listed in kiosk.core.settings.ENVIRONMENT.
"""

from __future__ import annotations

import os
from pathlib import Path

from kiosk.core.settings import env_path

#: The source checkout (the folder holding pyproject.toml, models/, config/ ...).
CHECKOUT = Path(__file__).resolve().parents[2]


def _env_path(name: str) -> Path | None:
    if name.startswith("XDG_"):  # the XDG base directories are not the kiosk's to document
        value = os.environ.get(name, "").strip()
        return Path(value).expanduser() if value else None
    return env_path(name)


def models_dir() -> Path:
    """Directory holding downloaded (and derived) model files."""
    return _env_path("KIOSK_MODELS_DIR") or CHECKOUT / "models"


def model_manifest() -> Path:
    """The committed model manifest (models/manifest.yaml in the checkout)."""
    return _env_path("KIOSK_MODEL_MANIFEST") or CHECKOUT / "models" / "manifest.yaml"


def asset_mirror() -> Path | None:
    """A local mirror directory to copy assets from instead of downloading (e.g. ../shared)."""
    return _env_path("KIOSK_ASSET_MIRROR")


def index_root() -> Path:
    """Root under which deploys put releases/<index-id>/ and the `current` symlink."""
    return _env_path("KIOSK_INDEX_ROOT") or CHECKOUT / "index"


def runtime_dir() -> Path:
    """Runtime state (status file). systemd's RuntimeDirectory= sets RUNTIME_DIRECTORY."""
    explicit = _env_path("RUNTIME_DIRECTORY")
    if explicit:
        return Path(str(explicit).split(":")[0])
    xdg = _env_path("XDG_RUNTIME_DIR")
    if xdg:
        return xdg / "move-mirror"
    return Path(f"/tmp/move-mirror-{os.getuid()}")


def cache_dir() -> Path:
    """Caches (builder extraction cache, demo assets)."""
    explicit = _env_path("KIOSK_CACHE_DIR")
    if explicit:
        return explicit
    xdg = _env_path("XDG_CACHE_HOME")
    return (xdg or Path.home() / ".cache") / "move-mirror"
