"""The kiosk's configuration (config/kiosk.yaml): typed, frozen, validated.

`load_config(path)` reads YAML and returns a `KioskConfig`, or raises `ConfigError`
listing every problem with its key path. Every key has a default, so an empty file is
a valid configuration. config/kiosk.yaml documents every key (a test keeps them in step).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk.app.devices.camera.source import source_problem
from kiosk.app.service.schedule import POWER_CHOICES, check_dates, check_hours
from kiosk.app.service.schema import ConfigError, build, doc_field, section
from kiosk.core import paths
from kiosk.core.enums import Delegate, FlipViews, Metric, Preprocess, ScaleViews, ScreenLayout
from kiosk.core.safefile import FileRefused
from kiosk.core.safeyaml import YamlRefused, load_yaml
from kiosk.match.metrics import DEFAULT_METRIC

__all__ = ["DEPLOY_REFUSED", "ConfigError", "KioskConfig", "load_config", "load_served_config",
           "parse_config", "refuse_machine_keys"]

#: keys a deployed config may not set: they place the index and the status file, which the
#: machine's own kiosk.yaml decides (a deploy finds its release and health check through them)
DEPLOY_REFUSED = (("index", "path"), ("status", "path"))

def _check_source(value: str) -> str | None:
    return source_problem(value)  # the grammar's one owner: kiosk.app.devices.camera.source


ROTATIONS = (0, 90, 180, 270)


@dataclass(frozen=True)
class CameraConfig:
    source: str = doc_field("picamera2", "picamera2 | webcam:N | replay:PATH (video file or image folder)",
                            check=_check_source)
    width: int = doc_field(1280, "capture width in pixels", min=160, max=4096)
    height: int = doc_field(720, "capture height in pixels", min=120, max=4096)
    mirror: bool = doc_field(True, "flip the camera image horizontally, so the screen acts as a mirror")
    rotation: int = doc_field(0, "rotate camera frames clockwise by this many degrees", choices=ROTATIONS)
    capture_timeout_s: float = doc_field(2.0, "a capture taking longer than this counts as a failure",
                                         gt=0, max=60)
    max_failures: int = doc_field(5, "consecutive capture failures before the process exits for systemd "
                                  "to restart it", min=1, max=1000)
    replay_realtime: bool = doc_field(True, "replay sources: pace frames at their recorded rate "
                                      "(false: as fast as possible)")
    replay_loop: bool = doc_field(True, "replay sources: start again at the end")


@dataclass(frozen=True)
class ModelConfig:
    name: str = doc_field("", "pose model: empty = the model the index was built with (its manifest "
                          "names it); or a name from models/manifest.yaml, or a .tflite path")
    delegate: str = doc_field("auto", "auto (Edge TPU if present, else CPU) | cpu | edgetpu",
                              choices=Delegate.values())
    num_threads: int = doc_field(2, "CPU interpreter threads", min=1, max=16)
    preprocess: str = doc_field("default", "default (keep aspect, pad) | coral (stretch, nearest)",
                                choices=Preprocess.values())


@dataclass(frozen=True)
class IndexConfig:
    path: str = doc_field("", "index directory; empty means <index root>/current (KIOSK_INDEX_ROOT)")
    metric: str = doc_field(DEFAULT_METRIC.value, "trimmed (visible, forgiving two misplaced keypoints) |"
                            " visible (the keypoints the camera sees) | cosine | weighted (Move Mirror's);"
                            " see docs/match-quality.md",
                            choices=Metric.values())


@dataclass(frozen=True)
class SmoothingConfig:
    enabled: bool = doc_field(True, "One Euro filter on keypoints")
    min_cutoff: float = doc_field(1.0, "One Euro minimum cutoff frequency (Hz): lower = smoother",
                                  gt=0, max=100)
    beta: float = doc_field(0.05, "One Euro speed coefficient: higher = less lag on fast moves",
                            min=0, max=100)
    d_cutoff: float = doc_field(1.0, "One Euro derivative cutoff (Hz)", gt=0, max=100)


@dataclass(frozen=True)
class PoseConfig:
    min_pose_score: float = doc_field(0.25, "ignore people whose pose score is below this", min=0, max=1)
    keypoint_threshold: float = doc_field(0.3, "a keypoint counts as confident at or above this score",
                                          min=0, max=1)
    min_confident_keypoints: int = doc_field(8, "ignore people with fewer confident keypoints",
                                             min=0, max=17)
    person_frames: int = doc_field(3, "frames a detection must look like a person before the kiosk"
                                   " reacts", min=1, max=100)
    scale_views: str = doc_field("auto", "estimate frames in turn at three sizes (black margins of 0,"
                                 " 12.5 and 25%) and vote the visitor's last three poses: fewer"
                                 " misplaced keypoints on visitors who fill the frame (auto: with"
                                 " PoseNet models, not MoveNet)", choices=ScaleViews.values())
    flip_views: str = doc_field("auto", "see the frame mirrored too: fewer misplaced keypoints (always:"
                                " every frame estimated twice and each person's two poses averaged,"
                                " a second model run per frame; cycle: with scale views, every other"
                                " frame estimated mirrored instead, no extra run; auto: always when"
                                " the model runs on the Edge TPU, else cycle)",
                                choices=FlipViews.values())
    smoothing: SmoothingConfig = section(SmoothingConfig, "keypoint smoothing")


@dataclass(frozen=True)
class MatchConfig:
    max_distance: float = doc_field(0.2, "beyond this match distance show the 'no good match' state"
                                    " (calibrated: 0.2 = closer than 80% of archive poses are to"
                                    " their nearest other source)", gt=0, max=2)
    hysteresis_margin: float = doc_field(0.2, "switch photo when the new match is better by this on"
                                         " two poses in a row (calibrated units, as max_distance)",
                                         min=0, max=2)
    hysteresis_frames: int = doc_field(3, "...or if the new match persists for this many frames"
                                       " (twice as many for a jump to another photo: anything but"
                                       " the shown video's next frames)", min=1, max=1000)
    hysteresis_s: float = doc_field(0.3, "...and for this many seconds of pose time (calm at any pose"
                                    " rate; twice as long for a jump); 'no good match' and 'nobody'"
                                    " persist as long", min=0, max=60)
    variety_span: float = doc_field(120.0, "seconds a source left gives way to near-ties (tie_margin)"
                                    " from other sources (mirrored twins and frames of one video are"
                                    " one source); a clearly better match is always shown",
                                    min=0, max=86400)
    tie_margin: float = doc_field(0.05, "matches this close to the best (calibrated units) count as"
                                  " ties: another source is preferred", min=0, max=2)


@dataclass(frozen=True)
class DisplayConfig:
    width: int = doc_field(1920, "screen width in pixels (before rotation)", min=160, max=7680)
    height: int = doc_field(1080, "screen height in pixels (before rotation)", min=120, max=7680)
    fullscreen: bool = doc_field(True, "fullscreen window (kmsdrm on the Pi)")
    rotation: int = doc_field(0, "rotate the composed screen clockwise (portrait screens: 90 or 270)",
                              choices=ROTATIONS)
    layout: str = doc_field("side_by_side",
                            "side_by_side (camera | photo) or full_mirror (photo, live inset)",
                            choices=ScreenLayout.values())
    show_skeleton: bool = doc_field(True, "draw the visitor's skeleton on the live image")
    inset_fraction: float = doc_field(0.25, "full_mirror: live inset width as a fraction of the screen",
                                      min=0.05, max=0.5)
    crossfade_ms: int = doc_field(250, "crossfade between photos (0 = cut)", min=0, max=5000)
    caption: bool = doc_field(True, "show the photo's title and credit")
    step_back_hint: bool = doc_field(True, "ask the visitor to step back when the body is cut off")
    debug_overlay: bool = doc_field(False, "fps, per-stage ms, match distance, index id")
    max_fps: int = doc_field(60, "frames presented per second at most, whatever the pose model costs "
                             "(60: a Pi HDMI screen's refresh; 0 = uncapped)", min=0, max=240)


@dataclass(frozen=True)
class AttractConfig:
    idle_timeout_s: float = doc_field(15.0, "seconds without a visitor before the attract slideshow",
                                      gt=0, max=3600)
    slide_seconds: float = doc_field(5.0, "seconds per slide in the attract slideshow", gt=0, max=600)


@dataclass(frozen=True)
class StatusConfig:
    path: str = doc_field("", "status JSON file; empty means <runtime dir>/status.json")
    interval_s: float = doc_field(1.0, "seconds between status file updates", gt=0, max=60)


@dataclass(frozen=True)
class TelemetryConfig:
    textfile: str = doc_field("", "Prometheus metrics file for node_exporter's textfile collector, "
                              "e.g. /run/move-mirror/metrics.prom (point node_exporter there); empty: off")
    interval_s: float = doc_field(15.0, "seconds between rewrites of the metrics file", gt=0, max=3600)


def _day(name: str) -> Any:
    return doc_field("09:00-18:00", f"opening hours on {name}: HH:MM-HH:MM, several comma separated; "
                     "empty: closed all day", check=check_hours)


@dataclass(frozen=True)
class ScheduleConfig:
    enabled: bool = doc_field(False, "outside opening hours power the display down and pause inference")
    mon: str = _day("Mondays")
    tue: str = _day("Tuesdays")
    wed: str = _day("Wednesdays")
    thu: str = _day("Thursdays")
    fri: str = _day("Fridays")
    sat: str = _day("Saturdays")
    sun: str = _day("Sundays")
    closed: str = doc_field("", "closed dates (holidays): YYYY-MM-DD, comma separated", check=check_dates)
    power: str = doc_field("auto", "how the display is powered down: auto | vcgencmd | wlr-randr | black "
                           "(a black screen)", choices=POWER_CHOICES)


@dataclass(frozen=True)
class KioskConfig:
    camera: CameraConfig = section(CameraConfig, "where frames come from")
    model: ModelConfig = section(ModelConfig, "pose model and accelerator")
    index: IndexConfig = section(IndexConfig, "the gallery index")
    pose: PoseConfig = section(PoseConfig, "who counts as a visitor")
    match: MatchConfig = section(MatchConfig, "when a match is shown")
    display: DisplayConfig = section(DisplayConfig, "screen and layout")
    attract: AttractConfig = section(AttractConfig, "attract mode when nobody is there")
    status: StatusConfig = section(StatusConfig, "status file for `kiosk status` and deploy health checks")
    telemetry: TelemetryConfig = section(TelemetryConfig, "metrics for Prometheus (a file; no port opened)")
    schedule: ScheduleConfig = section(ScheduleConfig, "opening hours (the local time zone)")

    # ---- resolved paths -------------------------------------------------------------
    def index_path(self) -> Path:
        return Path(self.index.path).expanduser() if self.index.path else paths.index_root() / "current"

    def status_path(self) -> Path:
        if self.status.path:
            return Path(self.status.path).expanduser()
        return paths.runtime_dir() / "status.json"


def parse_config(data: Any, source: str = "<config>") -> KioskConfig:
    """Validate a parsed mapping; raises ConfigError naming every bad key path."""
    problems: list[str] = []
    config = build(KioskConfig, data, "", problems)
    if problems:
        raise ConfigError(source, problems)
    return config


def load_config(path: Path | str | None) -> KioskConfig:
    """Read and validate a YAML file (None: all defaults)."""
    if path is None:
        return KioskConfig()
    return parse_config(_load_raw(Path(path)), str(path))


def _load_raw(path: Path) -> Any:
    """The parsed YAML of a config file; problems with the file raised as ConfigError."""
    try:
        return load_yaml(path)
    except YamlRefused as exc:
        where = f"line {exc.line}: " if exc.line else ""
        raise ConfigError(str(path), [where + exc.problem]) from None
    except FileRefused as exc:
        raise ConfigError(str(path), [str(exc)]) from None
    except OSError as exc:
        problem = f"cannot read the file ({exc.strerror or exc}); check the path"
        raise ConfigError(str(path), [problem]) from None


def _read_mapping(path: Path) -> dict[str, Any]:
    """The raw YAML mapping of a config file (problems raised as ConfigError)."""
    data = _load_raw(path)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(str(path), ["the file must be a mapping of sections (camera:, match:, ...)"])
    return data


def refuse_machine_keys(path: Path) -> None:
    """A config to deploy (`kiosk deploy --config`): valid, and without the machine's own keys."""
    load_config(path)
    data = _read_mapping(path)
    bad = [f"{a}.{b}: set by the kiosk's own kiosk.yaml, not by a deployed config; remove it"
           for a, b in DEPLOY_REFUSED if isinstance(data.get(a), dict) and b in data[a]]
    if bad:
        raise ConfigError(str(path), bad)


def load_served_config(path: Path, apply: Any = None) -> tuple[KioskConfig, str | None]:
    """The configuration the kiosk serves: its file, with the config deployed with the current
    release over it (section by section: the deployed file's keys win), and the deployed file's
    sha256 (None when none). `apply` (Overrides.apply) is applied to both; the index path it
    gives says where the release root is. Raises ConfigError naming the file and key."""
    from kiosk.gallery.releases import deployed_config

    def finish(config: KioskConfig) -> KioskConfig:
        return apply(config) if apply is not None else config

    base = finish(load_config(path))
    found = deployed_config(base.index_path())
    if found is None:
        return base, None
    deployed, sha = found
    refuse_machine_keys(deployed)
    merged: dict[str, Any] = dict(_read_mapping(path)) if path.is_file() else {}
    for key, value in _read_mapping(deployed).items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return finish(parse_config(merged, f"{path} with the deployed {deployed}")), sha
