"""`kiosk bench loop` runs the real loop (MoveNet, a VP-tree over synthetic + real entries), the
threaded one and the old serial one side by side, and refuses to print figures when a stage
fails on the way. Figures are checked for presence and sense, never for speed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kiosk.cli.main import main

PHOTOS = ["tennis_standing.jpg", "backpackman.jpg", "frisbee_2.jpg", "skate_park.jpg"]


@pytest.fixture(scope="module")
def small_index(shared_dir: Path, models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bench") / "index"
    photos = [str(shared_dir / "data/posenet-demo-images" / p) for p in PHOTOS]
    rc = main(["index", "build", *photos, "-o", str(out), "--model", "movenet-lightning",
               "--models-dir", str(models_dir), "--partial-body", "--display-size", "320x360",
               "--no-cache", "--quiet"])
    assert rc == 0
    return out


def _bench(index: Path, models_dir: Path, *extra: str) -> list[str]:
    return ["bench", "loop", "--frames", "40", "--warmup", "20", "--entries", "3000",
            "--size", "640x360", "--index", str(index), "--models-dir", str(models_dir), "--json", *extra]


def test_bench_loop_reports_a_running_loop(small_index: Path, models_dir: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    args = _bench(small_index, models_dir, "--compare", "--model-latency", "100", "--max-fps", "30")
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["frames"] == 40 and result["entries"] == 3000 and result["max_fps"] == 30
    assert set(result["modes"]) == {"threaded", "serial"}
    for mode in result["modes"].values():
        assert mode["display_fps"] > 0 and mode["pose_rate"] > 0 and mode["p95_frame_ms"] > 0
        assert "switch_latency_ms" in mode
        for stage in ("invoke", "match", "render"):
            assert mode["stages_ms"][stage]["p50"] > 0
        assert mode["stages_ms"]["pose"]["p50"] >= 100  # each estimate takes the synthetic latency
    assert result["display_fps"] == result["modes"]["threaded"]["display_fps"]


def test_bench_loop_gives_no_figures_when_a_stage_fails(small_index: Path, models_dir: Path,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    from kiosk.bench.bigindex import BigIndex

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("broken index")

    monkeypatch.setattr(BigIndex, "query_vector", broken)
    monkeypatch.setattr(BigIndex, "search", broken)
    assert main(_bench(small_index, models_dir)) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "stage errors" in captured.err
