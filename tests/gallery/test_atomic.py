from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.gallery.atomic import BuildError, check_out_dir, clean_stale, swap_into_place


def _dir(path: Path, marker: str) -> Path:
    path.mkdir(parents=True)
    (path / "manifest.json").write_text(marker)
    return path


def test_swap_replaces_an_existing_index(tmp_path: Path) -> None:
    out = _dir(tmp_path / "out", "old")
    new = _dir(tmp_path / ".out.building-1-x", "new")
    swap_into_place(new, out)
    assert (out / "manifest.json").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_swap_into_nothing(tmp_path: Path) -> None:
    new = _dir(tmp_path / ".out.building-1-x", "new")
    swap_into_place(new, tmp_path / "out")
    assert (tmp_path / "out/manifest.json").read_text() == "new" and not new.exists()


@pytest.mark.parametrize(
    ("setup", "ok"),
    [
        (lambda p: None, True),  # absent
        (lambda p: p.mkdir(), True),  # empty
        (lambda p: _dir(p, "{}"), True),  # an index
        (lambda p: (p.mkdir(), (p / "x.txt").write_text("x")), False),  # someone's folder
        (lambda p: p.write_text("file"), False),
    ],
)
def test_check_out_dir(tmp_path: Path, setup, ok: bool) -> None:
    out = tmp_path / "out"
    setup(out)
    if ok:
        check_out_dir(out)
    else:
        with pytest.raises(BuildError, match="out"):
            check_out_dir(out)


def test_clean_stale_removes_dead_builds_only(tmp_path: Path) -> None:
    import os

    dead = _dir(tmp_path / ".out.building-999999999-abc", "x")  # no such pid
    alive = _dir(tmp_path / f".out.building-{os.getpid()}-abc", "x")
    clean_stale(tmp_path / "out")
    assert not dead.exists() and alive.exists()
