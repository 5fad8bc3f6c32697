"""docs/reference/ is generated from the code and kept in step (python -m kiosk.cli.docgen)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kiosk.cli import docgen
from kiosk.core.enums import ExitCode
from kiosk.core.settings import ENVIRONMENT


def test_the_committed_pages_match_the_code() -> None:
    assert docgen.stale_pages() == [], "run `python -m kiosk.cli.docgen` and commit docs/reference/"


@pytest.mark.parametrize("page", sorted(docgen.PAGES))
def test_a_stale_page_is_named(page: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    docgen.write_pages(tmp_path)
    assert docgen.main(["--check", "--dir", str(tmp_path)]) == 0
    path = tmp_path / page
    path.write_text(path.read_text() + "hand edit\n")
    assert docgen.main(["--check", "--dir", str(tmp_path)]) == 1
    assert page in capsys.readouterr().err


@pytest.mark.parametrize(("page", "must_hold"), [
    ("environment.md", [v.name for v in ENVIRONMENT]),
    ("exit-codes.md", [c.name for c in ExitCode]),
    ("config.md", ["model.delegate", "`auto` \\| `cpu` \\| `edgetpu`", "index.metric",
                   "display.crossfade_ms"]),
    ("cli.md", ["## `kiosk index query`", "--metric", "## `kiosk bench loop`", "--models-dir"]),
])
def test_pages_cover_their_source(page: str, must_hold: list[str]) -> None:
    text = docgen.PAGES[page]()
    for item in must_hold:
        assert item in text


CHECKOUT = Path(__file__).resolve().parents[2]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def _doc_files() -> list[Path]:
    return [CHECKOUT / "README.md", *sorted((CHECKOUT / "docs").rglob("*.md"))]


@pytest.mark.parametrize("doc", _doc_files(), ids=lambda p: str(p.relative_to(CHECKOUT)))
def test_relative_links_resolve(doc: Path) -> None:
    broken = [target for target in LINK.findall(doc.read_text())
              if "://" not in target and not (doc.parent / target).exists()]
    assert not broken, f"{doc.relative_to(CHECKOUT)} links to missing files: {broken}"


def test_readme_stays_short() -> None:
    assert len((CHECKOUT / "README.md").read_text().splitlines()) <= 150
