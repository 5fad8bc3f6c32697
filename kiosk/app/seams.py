"""Every seam of the kiosk and what implements it, proven by the type checker (nothing runs here).

    PoseModel    kiosk/pose/model.py                 MoveNetModel, PoseNetModel | FakePoseModel
    MatchIndex   kiosk/gallery/protocol.py           GalleryIndex | FakeIndex
    CameraSource kiosk/app/devices/camera/source.py  Picamera2Source, WebcamSource | replays
    Display      kiosk/app/devices/display/base.py   PygameDisplay | MemoryDisplay

mypy checks each assignment below structurally: an implementation that drifts from its protocol
fails `scripts/test.sh`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kiosk.app.devices.camera.picamera2_source import Picamera2Source
    from kiosk.app.devices.camera.replay_source import ArrayReplay, FolderReplay, VideoReplay
    from kiosk.app.devices.camera.source import CameraSource
    from kiosk.app.devices.camera.webcam_source import WebcamSource
    from kiosk.app.devices.display.base import Display, MemoryDisplay
    from kiosk.app.devices.display.pygame_display import PygameDisplay
    from kiosk.gallery.fake import FakeIndex
    from kiosk.gallery.protocol import MatchIndex
    from kiosk.gallery.reader import GalleryIndex
    from kiosk.pose.fake import FakePoseModel
    from kiosk.pose.model import PoseModel
    from kiosk.pose.movenet import MoveNetModel
    from kiosk.pose.posenet import PoseNetModel

    POSE_MODELS: tuple[type[PoseModel], ...] = (MoveNetModel, PoseNetModel, FakePoseModel)
    MATCH_INDEXES: tuple[type[MatchIndex], ...] = (GalleryIndex, FakeIndex)
    CAMERAS: tuple[type[CameraSource], ...] = (Picamera2Source, WebcamSource, VideoReplay, FolderReplay,
                                               ArrayReplay)
    DISPLAYS: tuple[type[Display], ...] = (PygameDisplay, MemoryDisplay)
