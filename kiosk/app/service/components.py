"""Builds the kiosk's parts from a configuration: which config file, the pose model, the index.

Heavy modules (the interpreter, the index reader, pygame) are imported inside the functions,
so `kiosk status` and `kiosk config` stay quick.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kiosk.app.service.config import KioskConfig
from kiosk.core import paths
from kiosk.core.enums import Delegate
from kiosk.core.safefile import FileRefused, resolve_dir
from kiosk.core.settings import env_path

if TYPE_CHECKING:
    from kiosk.gallery.protocol import MatchIndex
    from kiosk.pose.model import PoseModel

log = logging.getLogger(__name__)

#: Where install.sh puts the machine's configuration.
SYSTEM_CONFIG = Path("/etc/move-mirror/kiosk.yaml")


def default_config_path(explicit: str | Path | None = None) -> Path:
    """--config, else $KIOSK_CONFIG, else /etc/move-mirror/kiosk.yaml if present, else the checkout's."""
    if explicit:
        return Path(explicit).expanduser()
    env = env_path("KIOSK_CONFIG")
    if env:
        return env
    if SYSTEM_CONFIG.is_file():
        return SYSTEM_CONFIG
    return paths.CHECKOUT / "config" / "kiosk.yaml"


@dataclass(frozen=True)
class Overrides:
    """Command-line settings that win over the config file (and keep winning after a reload)."""

    index: str | None = None
    source: str | None = None
    replay_realtime: bool | None = None
    replay_loop: bool | None = None
    status_file: str | None = None

    def apply(self, config: KioskConfig) -> KioskConfig:
        camera = config.camera
        if self.source is not None:
            camera = dataclasses.replace(camera, source=self.source)
        if self.replay_realtime is not None:
            camera = dataclasses.replace(camera, replay_realtime=self.replay_realtime)
        if self.replay_loop is not None:
            camera = dataclasses.replace(camera, replay_loop=self.replay_loop)
        index = config.index
        if self.index is not None:
            index = dataclasses.replace(index, path=str(Path(self.index).expanduser().absolute()))
        status = config.status
        if self.status_file is not None:
            status = dataclasses.replace(status, path=str(Path(self.status_file).expanduser().absolute()))
        return dataclasses.replace(config, camera=camera, index=index, status=status)


@dataclass
class LoadedModel:
    model: PoseModel
    delegate: str          # the delegate actually in use: cpu | edgetpu
    warning: str | None    # why the requested delegate is not the one in use, if so


def load_model(config: KioskConfig) -> LoadedModel:
    """The pose model on the configured delegate; `auto` (or a failing `edgetpu`) falls back to the CPU.
    An empty model.name (the index's model, resolved by the service) means the default model here."""
    from kiosk.app.service.modelchoice import choose_model
    from kiosk.pose.engine import load_pose_model

    m = config.model
    if not m.name:
        m = dataclasses.replace(m, name=choose_model("", None).name)
    warning: str | None = None
    try:
        model = load_pose_model(m.name, delegate=m.delegate, num_threads=m.num_threads,
                                preprocess=m.preprocess)
    except Exception as exc:
        if m.delegate == "cpu":
            raise
        warning = (f"model.delegate={m.delegate}: the Edge TPU could not be used ({exc}); running "
                   f"{m.name} on the CPU. Check the Coral is plugged in and libedgetpu1-std is installed "
                   "(kiosk doctor)")
        log.warning("%s", warning)
        model = load_pose_model(m.name, delegate=Delegate.CPU, num_threads=m.num_threads,
                                preprocess=m.preprocess)
    delegate = str(model.delegate)
    if m.delegate == "edgetpu" and delegate != "edgetpu" and warning is None:
        warning = (f"model.delegate=edgetpu but the model runs on {delegate}; check the Coral "
                   "(kiosk doctor)")
        log.warning("%s", warning)
    return LoadedModel(model=model, delegate=delegate, warning=warning)


def resolve_index_dir(config: KioskConfig) -> Path:
    """The configured index directory with symlinks (`current`) resolved now.

    A path that cannot be resolved (missing, a symlink loop) is returned as configured;
    open_index says what is wrong with it."""
    try:
        return resolve_dir(config.index_path(), "index directory")
    except (FileRefused, OSError):
        return config.index_path()


def open_index(config: KioskConfig, *, verify: bool = False) -> MatchIndex:
    """Open the configured index (the `current` symlink resolved now); raises on any problem."""
    from kiosk.gallery.reader import GalleryIndex

    configured = config.index_path()
    try:
        root = resolve_dir(configured, "index directory")
    except FileNotFoundError:
        raise FileNotFoundError(
            f"no index at {configured}: build one with `kiosk index build` and deploy it "
            f"(scripts/deploy.sh), or set index.path / --index") from None
    return GalleryIndex.open(root, verify=verify)


def describe_index(index: MatchIndex | None) -> tuple[str | None, str | None]:
    """(index_id, path) of an open index, or (None, None)."""
    if index is None:
        return None, None
    return str(index.index_id), str(index.path)
