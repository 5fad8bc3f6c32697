"""A real headless Chromium (Debian's `chromium`) for the report tests: the DOM as the browser
parsed it (--dump-dom) and a screenshot (--screenshot), each run with a new empty profile."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars")


def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:  # scripts/test.sh installs it when root; failing says what to do
        pytest.fail("chromium is not installed: apt-get install chromium (scripts/test.sh does it as root)")
    return exe


def _run(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile.mkdir(parents=True, exist_ok=True)
    cmd = [chromium(), *FLAGS, f"--user-data-dir={profile}", *args, page.resolve().as_uri()]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


@dataclass(frozen=True)
class Shown:
    dom: str
    screenshot: Path


def open_in_chromium(page: Path, shots: Path, name: str, height: int = 4000) -> Shown:
    """The page's DOM after Chromium loaded it, and a full-width screenshot shots/<name>.png."""
    dom = _run(page, shots / f".profile-{name}-dom", "--dump-dom")
    assert dom.returncode == 0 and "<html" in dom.stdout, dom.stderr[-2000:]
    shot = shots / f"{name}.png"
    r = _run(page, shots / f".profile-{name}-shot", f"--screenshot={shot}",
             f"--window-size=1280,{height}")
    assert r.returncode == 0 and shot.is_file(), r.stderr[-2000:]
    return Shown(dom.stdout, shot)


class Dom(HTMLParser):
    """Elements with an id, class or data-* attribute, and the page text, from the DOM dump."""

    def __init__(self, dom: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.feed(dom)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}))

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.text.append(data.strip())

    def find(self, tag: str | None = None, **attrs: str) -> list[dict[str, str]]:
        """Elements of `tag` whose attributes contain the given values (class: one of its words;
        attribute names with _ for -)."""
        out = []
        for t, a in self.elements:
            if tag and t != tag:
                continue
            ok = True
            for k, v in attrs.items():
                key = k.replace("_", "-").rstrip("-")
                have = a.get(key)
                if have is None or (v != "*" and (v not in have.split() if key == "class" else have != v)):
                    ok = False
            if ok:
                out.append(a)
        return out

    @property
    def all_text(self) -> str:
        return " ".join(self.text)
