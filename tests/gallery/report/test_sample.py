"""The sample gallery of drawn figures (no photos, no model): every report section has content."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.gallery.report.chromium import Dom, open_in_chromium

CHECKOUT = Path(__file__).resolve().parents[3]


def test_sample_report(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, str(CHECKOUT / "scripts/curator_sample.py"), str(tmp_path / "s")],
                       capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "rendition upscaled" in r.stderr and "skipped file     photos/truncated.png" in r.stderr
    page = Path(r.stdout.strip().splitlines()[-1])
    shown = open_in_chromium(page, tmp_path / "screenshots", "sample", height=6400)
    dom = Dom(shown.dom)
    counts = {s["id"]: int(s["data-count"]) for s in dom.find("section", id="*", data_count="*")}
    assert counts["sheets"] == 3 and counts["coverage"] > 0 and counts["rejects"] > 3
    warn = {w["data-kind"]: int(w["data-count"]) for w in dom.find("div", class_="warn", data_kind="*")}
    assert warn["duplicates"] >= 1 and warn["caption"] > 0 and warn["upscale"] > 0
    assert len(dom.find("div", class_="hole")) == counts["holes"]
