"""kiosk.core.safefile under hostile directories: special files, escapes, loops, huge files.

A FIFO must be refused without blocking: that is checked in a child process with a time bound
(the outcome, not a timing: a blocked open would never print)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.core.safefile import FileRefused, check_regular, inside, open_regular, read_bytes, resolve_dir


@pytest.fixture()
def room(tmp_path: Path) -> tuple[Path, Path]:
    """(root, outside): a directory to read from and a secret file beside it."""
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "ok.json").write_text("{}")
    outside = tmp_path / "secret.bin"
    outside.write_bytes(b"x" * 123457)
    return root, outside


def test_a_regular_file_inside_is_read(room: tuple[Path, Path]) -> None:
    root, _ = room
    assert read_bytes(root / "ok.json", root=root) == b"{}"
    assert check_regular(inside(root, "ok.json"), root=root).st_size == 2


@pytest.mark.parametrize("name", ["../secret.bin", "sub/../../secret.bin", "/etc/passwd", "~/x", ""])
def test_names_leaving_the_directory_are_refused(room: tuple[Path, Path], name: str) -> None:
    root, _ = room
    with pytest.raises(FileRefused) as err:
        inside(root, name)
    assert "123457" not in str(err.value)


@pytest.mark.parametrize("link_at", ["link.json", "sub/link.json"])
def test_symlinks_are_not_followed_and_reveal_nothing(room: tuple[Path, Path], link_at: str) -> None:
    root, outside = room
    (root / link_at).symlink_to(outside)
    with pytest.raises(FileRefused, match="symlink") as err:
        read_bytes(root / link_at, root=root)
    assert "123457" not in str(err.value) and "secret" not in str(err.value)


def test_a_symlinked_directory_is_not_followed(room: tuple[Path, Path]) -> None:
    root, outside = room
    (root / "renditions").symlink_to(outside.parent)
    with pytest.raises(FileRefused, match="symlink") as err:
        check_regular(root / "renditions" / "secret.bin", root=root)
    assert "123457" not in str(err.value)


@pytest.mark.parametrize(("make", "kind"), [
    (lambda p: os.mkfifo(p), "FIFO"),
    (lambda p: socket.socket(socket.AF_UNIX).bind(str(p)), "socket"),
    (lambda p: p.mkdir(), "directory"),
])
def test_special_files_are_refused_by_kind(room: tuple[Path, Path], make, kind: str) -> None:
    root, _ = room
    make(root / "manifest.json")
    with pytest.raises(FileRefused, match=kind):
        read_bytes(root / "manifest.json", root=root)


def test_a_device_is_refused_not_read_forever() -> None:
    with pytest.raises(FileRefused, match="character device"):
        read_bytes(Path("/dev/zero"))


def test_a_fifo_never_blocks(tmp_path: Path) -> None:
    fifo = tmp_path / "config.yaml"
    os.mkfifo(fifo)
    code = ("import sys; from pathlib import Path; from kiosk.core.safefile import read_bytes, FileRefused\n"
            "try:\n    read_bytes(Path(sys.argv[1]))\nexcept FileRefused as e:\n    print('refused:', e)\n")
    result = subprocess.run([sys.executable, "-c", code, str(fifo)], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0 and "refused:" in result.stdout and "FIFO" in result.stdout


def test_size_cap(room: tuple[Path, Path]) -> None:
    root, _ = room
    (root / "big.yaml").write_bytes(b"a" * 2000)
    with pytest.raises(FileRefused, match="limit"):
        read_bytes(root / "big.yaml", root=root, max_bytes=1000)
    with open_regular(root / "big.yaml", root=root, max_bytes=5000) as f:
        assert len(f.read()) == 2000


def test_symlink_loops_are_named(tmp_path: Path) -> None:
    (tmp_path / "current").symlink_to(tmp_path / "other")
    (tmp_path / "other").symlink_to(tmp_path / "current")
    with pytest.raises(FileRefused, match="symlink loop"):
        resolve_dir(tmp_path / "current", "index")
    with pytest.raises(FileRefused, match="symlink"):
        read_bytes(tmp_path / "current")
    with pytest.raises(FileNotFoundError):
        resolve_dir(tmp_path / "missing", "index")
