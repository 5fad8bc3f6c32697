"""Open a regular file, optionally one inside a directory, without trusting what is on disk.

The one way the kiosk reads an index, a config, a manifest or a model:

    root = resolve_dir(Path("index/current"), "index")     # `current` resolved; loops refused
    with open_regular(root / "entries.json", root=root) as f: ...
    data = read_bytes(path, max_bytes=CONFIG_LIMIT)          # a config, sidecar or manifest

Rules (each refusal raises `FileRefused`, a ValueError whose message names the file and the fix):
  * inside `root`: the relative name must be relative, without `..`, and no component below the
    root may be a symlink. Nothing about a file outside the root is ever looked at or reported
    (no size, no type), so the message is the same whether the target exists or not;
  * the file is opened with O_NONBLOCK | O_NOFOLLOW and checked with fstat before any read, so a
    FIFO, a device or a socket is refused without blocking;
  * reads are bounded: a file larger than `max_bytes` is refused before it is read.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path, PurePosixPath
from typing import BinaryIO

__all__ = ["CONFIG_LIMIT", "FileRefused", "check_regular", "inside", "open_regular", "read_bytes",
           "resolve_dir"]

#: Size cap for a config, sidecar or manifest file (YAML or JSON written by people or the builder).
CONFIG_LIMIT = 1 << 20

_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a directory"),
          (stat.S_ISLNK, "a symlink"))


class FileRefused(ValueError):
    """A file that must not be read; the message names it, says why and how to fix it."""


def _kind(mode: int) -> str:
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def inside(root: Path, name: str | os.PathLike[str]) -> Path:
    """root / name after checking that name is a plain relative path (no `..`, not absolute).

    Raises FileRefused without touching the file system."""
    text = os.fspath(name)
    if not isinstance(text, str) or not text or "\0" in text:
        raise FileRefused(f"{text!r}: not a file name inside {root}")
    rel = PurePosixPath(text)
    if rel.is_absolute() or ".." in rel.parts or text.startswith("~"):
        raise FileRefused(f"{text}: leaves the directory {root} (absolute path or '..'); "
                          "only files inside it are read: rebuild or redeploy it")
    return Path(root, *rel.parts)


def _no_symlink_below(root: Path, path: Path) -> None:
    """Every component of path below root must exist and not be a symlink (lstat only)."""
    try:
        rel = path.relative_to(root)
    except ValueError:
        raise FileRefused(f"{path}: not inside {root}; only files inside it are read") from None
    current = root
    for part in rel.parts:
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except FileNotFoundError:
            raise FileNotFoundError(errno.ENOENT, "missing", str(path)) from None
        if stat.S_ISLNK(mode):
            raise FileRefused(f"{rel.as_posix()}: is a symlink inside {root}; a symlink may point "
                              "outside, so it is not followed: replace it with the file itself")


def _open_fd(path: Path, root: Path | None) -> tuple[int, os.stat_result]:
    if root is not None:
        _no_symlink_below(root, path)
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (os.O_NOFOLLOW if root is not None else 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            where = f" inside {root}" if root is not None else ""
            raise FileRefused(f"{path}: is a symlink{where} or a symlink loop; point it at a "
                              "regular file") from None
        if exc.errno in (errno.ENXIO, errno.ENODEV):  # a socket, a device without its driver
            raise FileRefused(f"{path}: is {_kind(os.stat(path).st_mode)}, not a regular file; "
                              "replace it with the real file") from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise FileRefused(f"{path}: is {_kind(st.st_mode)}, not a regular file; replace it "
                              "with the real file")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def check_regular(path: Path, *, root: Path | None = None) -> os.stat_result:
    """stat of a regular file (see the module rules); raises FileRefused or OSError."""
    fd, st = _open_fd(Path(path), root)
    os.close(fd)
    return st


def open_regular(path: Path, *, root: Path | None = None, max_bytes: int | None = None) -> BinaryIO:
    """The file opened for binary reading; raises FileRefused or OSError (e.g. FileNotFoundError)."""
    fd, st = _open_fd(Path(path), root)
    if max_bytes is not None and st.st_size > max_bytes:
        os.close(fd)
        raise FileRefused(f"{path}: {st.st_size} bytes, more than the {max_bytes}-byte limit for "
                          "this kind of file; is it the right file?")
    return os.fdopen(fd, "rb")


def read_bytes(path: Path, *, root: Path | None = None, max_bytes: int = CONFIG_LIMIT) -> bytes:
    """At most max_bytes bytes of a regular file (a file that grows past the cap is refused)."""
    with open_regular(path, root=root, max_bytes=max_bytes) as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise FileRefused(f"{path}: more than the {max_bytes}-byte limit for this kind of file")
    return data


def resolve_dir(path: Path, what: str = "directory") -> Path:
    """path with every symlink (e.g. `current`) resolved now; must be a directory.

    Raises FileRefused for a symlink loop or a non-directory, FileNotFoundError when missing."""
    path = Path(path).expanduser()
    try:
        real = path.resolve(strict=True)
    except FileNotFoundError:
        raise FileNotFoundError(errno.ENOENT, f"no {what} at {path}", str(path)) from None
    except RuntimeError:  # Python 3.11 reports a symlink loop as RuntimeError
        raise FileRefused(f"{path}: symlink loop; point it at a real {what}") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise FileRefused(f"{path}: symlink loop; point it at a real {what}") from None
        raise
    if not real.is_dir():
        raise FileRefused(f"{path}: not a directory (expected a {what})")
    return real
