"""Every closed set of names the kiosk uses, each with one owner.

The members are `StrEnum`s, so they compare equal to (and format as) their plain string values:
configuration files, status JSON and command lines keep speaking strings, while code speaks
members. Config validation, argparse `choices` and the generated reference docs all derive the
allowed values from here (`values()`).
"""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import Self


class _Named(StrEnum):
    @classmethod
    def values(cls) -> tuple[str, ...]:
        """The allowed strings, in declaration order (for choices= and messages)."""
        return tuple(m.value for m in cls)

    @classmethod
    def parse(cls, value: str, what: str) -> Self:
        """The member for value, or ValueError naming `what` and the allowed values."""
        try:
            return cls(value)
        except ValueError:
            raise ValueError(f"{what} must be one of {', '.join(cls.values())}, got {value!r}") from None


class Delegate(_Named):
    """Where the pose model runs. AUTO: the Edge TPU if present, else the CPU (one INFO line)."""

    AUTO = "auto"
    CPU = "cpu"
    EDGETPU = "edgetpu"


class Variant(_Named):
    """A model file's variant in models/manifest.yaml (the delegate actually in use)."""

    CPU = "cpu"
    EDGETPU = "edgetpu"


class ModelFamily(_Named):
    POSENET = "posenet"
    MOVENET = "movenet"


class Metric(_Named):
    """Pose distance. COSINE: of the normalised vectors; WEIGHTED: Move Mirror's confidence-weighted;
    VISIBLE: on the keypoints the camera sees (kiosk.match.visible); TRIMMED: VISIBLE forgiving a
    pose's few misplaced keypoints (kiosk.match.trimmed)."""

    COSINE = "cosine"
    WEIGHTED = "weighted"
    VISIBLE = "visible"
    TRIMMED = "trimmed"


class Preprocess(_Named):
    """Fitting a frame to the model input. DEFAULT: keep aspect, pad; CORAL: stretch, nearest."""

    DEFAULT = "default"
    CORAL = "coral"


class Fitting(_Named):
    """Ways of fitting a frame to a model input compared by `kiosk eval resampling`
    (kiosk/pose/resampling.py): the kiosk's letterbox, and stretches with three filters."""

    LETTERBOX = "letterbox"
    STRETCH_NEAREST = "stretch_nearest"
    STRETCH_BILINEAR = "stretch_bilinear"
    STRETCH_ANTIALIAS = "stretch_antialias"


class Views(_Named):
    """How the gallery builder sees each person of a photo (kiosk/pose/views.py; video frames
    are always seen once). PHOTO: the model's pose on the whole photo; CROPS: the per-keypoint
    median of that pose and the model's poses on person-centred crops (three paddings, each
    also mirrored): the person as a kiosk camera sees a visitor, view-dependent errors voted out."""

    PHOTO = "photo"
    CROPS = "crops"


class ScaleViews(_Named):
    """Whether the kiosk estimates frames in turn at several sizes and votes the visitor's poses
    (kiosk/pose/scales.py, config pose.scale_views). AUTO: for the PoseNet family (trained on
    whole photos, it misplaces the keypoints of a person filling its input), not for MoveNet
    (made for a person filling its small input); ALWAYS; NEVER."""

    AUTO = "auto"
    ALWAYS = "always"
    NEVER = "never"


class FlipViews(_Named):
    """How the kiosk also sees the frame mirrored (kiosk/pose/flip.py, config pose.flip_views).
    ALWAYS: every frame estimated twice, as seen and mirrored, each person's two poses averaged
    (a second run adds about the Edge TPU's 10 ms invoke and a second preprocessing and
    decoding; on a Pi's CPU it would halve the pose rate). CYCLE: where scale views vote the
    visitor's last poses (kiosk.pose.scales), every other frame estimated mirrored instead, so
    the votes mix both: no extra model run. AUTO: ALWAYS when the model runs on the Edge TPU,
    else CYCLE. NEVER."""

    AUTO = "auto"
    ALWAYS = "always"
    CYCLE = "cycle"
    NEVER = "never"


class SizeBand(_Named):
    """How big a person of `kiosk eval match`'s archive is to the model
    (kiosk.gallery.evalqueries.size_band): NEAR, the crop is enlarged less than FAR_ENLARGEMENT
    times; FAR, that much or more (a kiosk camera never enlarges a visitor)."""

    NEAR = "near"
    FAR = "far"


class BandSide(_Named):
    """The side of the body an occluded query's band covers (`kiosk eval match`): BOTTOM hides
    the legs (a counter), TOP the head, shoulders and arms, LEFT / RIGHT one side (a pillar)."""

    BOTTOM = "bottom"
    TOP = "top"
    LEFT = "left"
    RIGHT = "right"


class Backend(_Named):
    """TFLite interpreter package: LiteRT (ai-edge-litert) or tflite-runtime."""

    LITERT = "litert"
    TFLITE = "tflite"


class ScreenLayout(_Named):
    """display.layout. SIDE_BY_SIDE: camera | photo; FULL_MIRROR: the photo, the camera as an inset."""

    SIDE_BY_SIDE = "side_by_side"
    FULL_MIRROR = "full_mirror"


class ServiceState(_Named):
    """The kiosk service's state, as status.py writes it and `kiosk status`/deploy.sh read it."""

    STARTING = "starting"
    RUNNING = "running"
    IDLE = "idle"
    DEGRADED = "degraded"  # running without a usable index ("no index" screen)
    CLOSED = "closed"  # outside opening hours: display off, inference paused (schedule section)
    STOPPING = "stopping"

    @classmethod
    def healthy(cls) -> tuple[ServiceState, ...]:
        """States in which a deploy counts the kiosk as serving (kiosk/fleet/remote.py)."""
        return (cls.STARTING, cls.RUNNING, cls.IDLE, cls.DEGRADED, cls.CLOSED)


class ReloadOutcome(_Named):
    """How a finished reload ended (status field `reload_outcome`; `kiosk reload` reads it)."""

    APPLIED = "applied"  # the new config/index serve (a restart-only change may still be pending)
    REFUSED = "refused"  # the old ones keep serving; last_error says why


class ExitCode(IntEnum):
    """Process exit codes of `kiosk` subcommands and `kiosk run` (docs/reference/exit-codes.md)."""

    OK = 0  # success (kiosk run: clean stop on a signal, --max-frames or the end of a replay)
    FAILURE = 1  # the work failed (kiosk run: camera gave up, model failed, unexpected error)
    USAGE = 2  # bad command line, bad configuration or bad input given by the user
    WRONG_INDEX = 3  # `kiosk status --expect-index`: the kiosk serves another index
    BUSY = 4  # `kiosk releases`: another release operation or deploy holds the kiosk's lock
    INTERRUPTED = 130  # Ctrl-C (SIGINT)
    PIPE_CLOSED = 141  # the reader of stdout went away (`kiosk ... | head`), as a shell reports SIGPIPE


#: What each exit code means, for the generated reference page.
EXIT_CODE_MEANING: dict[ExitCode, str] = {
    ExitCode.OK: "success; `kiosk run`: a clean stop (SIGTERM/SIGINT, --max-frames, end of a "
                 "non-looping replay); `kiosk status`: the kiosk is healthy",
    ExitCode.FAILURE: "the work failed: a missing or unreadable input, a failed check (`index verify`, "
                      "`doctor`, `status` when missing or stale), `kiosk run`: the camera gave up, the "
                      "model failed to load, an unexpected error (systemd restarts the kiosk)",
    ExitCode.USAGE: "bad usage: an unknown option or a bad value (an unknown model name or delegate, "
                    "a bad --display-size), a bad configuration file (`kiosk run`)",
    ExitCode.WRONG_INDEX: "`kiosk status --expect-index ID`: the kiosk is healthy but serves another index",
    ExitCode.BUSY: "`kiosk releases`: another release operation or deploy holds this kiosk's lock; "
                   "retry when it is done (the JSON says `busy`)",
    ExitCode.INTERRUPTED: "interrupted with Ctrl-C",
    ExitCode.PIPE_CLOSED: "the program reading the output stopped early (`kiosk index inspect --json | "
                          "head`); nothing is printed about it",
}
