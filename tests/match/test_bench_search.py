"""`kiosk bench search` runs end to end (figures are printed, never asserted)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys


def test_bench_search_smoke() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "kiosk", "bench", "search", "--sizes", "300,600", "--queries", "5",
         "--peer-queries", "5", "--json"],
        capture_output=True, text=True, timeout=300, check=True,
    ).stdout
    doc = json.loads(out)
    assert doc["threads"] == 1
    assert [r["n"] for r in doc["results"]] == [300, 600]
    for r in doc["results"]:
        peers = {"vptree", "numpy"} | ({"ckdtree"} if importlib.util.find_spec("scipy") else set())
        assert set(r) >= peers
        assert r["vptree"]["exact"] == "5/5 cos, 5/5 weighted"
        assert r["vptree"]["exact_visible"] == "10/10 visible, 5/5 trimmed"
        for key in ("cos_top1", "cos_top10", "w_top1", "w_top10", "vis_top1", "trim_top1"):
            assert r["vptree"][key]["p50"] > 0
