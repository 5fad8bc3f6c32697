"""Enumerate build sources (image files, videos, folders of them) and decode their frames.

A *source* is one file: an image gives one frame (time None), a video gives frames sampled at
`fps` frames per second of video time (PyAV). Sources are named by their path relative to the
parent of the SOURCE argument they came from (``photos/beach/a.jpg``), so an index never holds
the curator's absolute paths.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

IMAGE_EXTS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp"})
VIDEO_EXTS = frozenset({".mp4", ".mov", ".webm", ".avi", ".mkv", ".m4v"})


class SourceError(Exception):
    """A source file cannot be read; the message names the file and the reason."""


@dataclass(frozen=True)
class Source:
    path: Path  # absolute path to the file
    name: str  # stable, relative name stored in the index
    kind: str  # "image" | "video"


@dataclass(frozen=True)
class Skipped:
    name: str
    reason: str


def _kind(path: Path) -> str | None:
    ext = path.suffix.lower()
    if ext in IMAGE_EXTS:
        return "image"
    if ext in VIDEO_EXTS:
        return "video"
    return None


def _walk(folder: Path) -> Iterator[Path]:
    """Every non-hidden entry under folder that is not a directory, as the curator names it.

    Linked folders are followed (an archive assembled from links to other disks), each real
    folder once, so a link back up the tree cannot loop. A broken link, and a folder that
    cannot be listed, are yielded like files: `_problem` names them.
    """
    seen: set[Path] = set()

    def visit(d: Path) -> Iterator[Path]:
        real = d.resolve()
        if real in seen:
            return
        seen.add(real)
        try:
            entries = sorted(d.iterdir())
        except OSError:
            yield d
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                folder = entry.is_dir()
            except OSError:
                folder = False
            if folder:
                yield from visit(entry)
            else:
                yield entry

    yield from visit(folder)


def enumerate_sources(args: Sequence[str | Path]) -> tuple[list[Source], list[Skipped]]:
    """Every image/video under the given files and folders (recursively, sorted, hidden ignored).

    Files with other extensions found in folders, and links to nothing, are returned as
    `Skipped`. A SOURCE argument that does not exist raises SourceError (a typo should not
    silently build an empty index).
    """
    sources: list[Source] = []
    skipped: list[Skipped] = []
    seen: set[Path] = set()
    for arg in args:
        p = Path(arg).expanduser()
        if not p.exists():
            raise SourceError(f"{p}: no such file or folder (check the SOURCE argument)")
        p = p.resolve()
        base = p.parent
        for f in [p] if p.is_file() else sorted(_walk(p)):
            if f in seen:
                continue
            seen.add(f)
            name = f.relative_to(base).as_posix()
            kind = _kind(f)
            problem = _problem(f, kind)
            if problem or kind is None:
                skipped.append(Skipped(name, problem))
            else:
                sources.append(Source(f, name, kind))
    return sources, skipped


def _problem(f: Path, kind: str | None) -> str:
    """Why f (from `_walk`; kind: `_kind(f)`) is not a source, or "" when it is one."""
    try:
        if f.is_dir():
            return "a folder that cannot be listed (check its permissions)"
        if not f.exists():
            return f"a link to {f.readlink()}, which does not exist (mount its disk, or remove the link)"
        if not f.is_file():
            return "not a regular file (a pipe, socket or device)"
    except OSError as e:
        return f"cannot be read ({e.strerror}; check its permissions)"
    return "" if kind else f"unsupported file type {f.suffix or '(none)'!r}"


def load_image(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB, EXIF orientation applied. Raises SourceError naming file and reason."""
    from kiosk.pose.images import ImageLoadError
    from kiosk.pose.images import load_image as load

    try:
        rgb = load(path)
    except ImageLoadError as e:
        raise SourceError(str(e)) from None
    if rgb.ndim != 3 or rgb.shape[0] < 8 or rgb.shape[1] < 8:
        raise SourceError(f"{path}: image too small ({rgb.shape[1]}x{rgb.shape[0]})")
    return rgb


def _rotate(rgb: np.ndarray, degrees: int) -> np.ndarray:
    """Undo a video's display-matrix rotation (PyAV reports counter-clockwise degrees)."""
    turns = (round(degrees / 90) % 4) if degrees else 0
    return np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb


def iter_video_frames(
    path: Path,
    fps: float | None,
    times: set[float] | None = None,
    span: tuple[float, float | None] = (0.0, None),
) -> Iterator[tuple[float, np.ndarray]]:
    """(time in seconds, RGB frame) sampled at `fps` (None or <= 0: every frame).

    Sampling keeps the first frame of every 1/fps bin of video time, so it does not depend on
    where decoding started: with `span=(start, end)` the decoder seeks to the key frame before
    `start` and yields exactly the frames a full pass would yield with start <= t < end
    (end None: to the end). With `times`, only frames at those (sampled) times are converted
    to RGB (used to re-render cached entries). Raises SourceError naming the file on
    unreadable input, or without PyAV.
    """
    av = _pyav(path)
    start, end = span
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as e:
        raise SourceError(f"{path}: cannot open video ({e})") from None
    with container:
        if not container.streams.video:
            raise SourceError(f"{path}: no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        step = 1.0 / fps if fps and fps > 0 else 0.0
        next_t = start
        try:
            if start > 0 and stream.time_base:
                container.seek(int(start / stream.time_base), stream=stream, backward=True)
            for frame in container.decode(stream):
                t = float(frame.time) if frame.time is not None else next_t
                if t + 1e-6 < next_t:
                    continue
                if end is not None and t + 1e-6 >= end:
                    break
                next_t = (np.floor(t / step + 1e-6) + 1) * step if step else start
                t = round(t, 3)
                if times is not None and t not in times:
                    continue
                rgb = frame.to_ndarray(format="rgb24")
                yield t, _rotate(rgb, getattr(frame, "rotation", 0) or 0)
        except av.error.FFmpegError as e:
            raise SourceError(f"{path}: video decoding failed ({e})") from None


def _pyav(path: Path) -> Any:
    """The av module, or SourceError naming the video and the install that reads it."""
    try:
        import av
    except ImportError:
        raise SourceError(f"{path}: reading video needs PyAV: pip install '.[video]'") from None
    return av


def iter_frames(source: Source, fps: float | None) -> Iterator[tuple[float | None, np.ndarray]]:
    """Frames of any source: one (None, rgb) for an image, sampled frames for a video."""
    if source.kind == "image":
        yield None, load_image(source.path)
    else:
        yield from iter_video_frames(source.path, fps)


def count_video_frames(path: Path, fps: float | None) -> int | None:
    """An estimate of how many frames `iter_video_frames` yields (for the progress bar)."""
    try:
        import av

        with av.open(str(path)) as c:
            s = c.streams.video[0]
            dur = float(c.duration / 1e6) if c.duration else None
            if fps and fps > 0 and dur:
                return int(np.ceil(dur * fps))
            return int(s.frames) or None
    except Exception:  # only an estimate
        return None
