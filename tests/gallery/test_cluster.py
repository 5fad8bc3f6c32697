"""The Ray engine on a real local Ray cluster (2 CPUs, started here): the demo archive (the demo
gallery's photos: the 24 PoseNet demo photos and its COCO slice; plus the squats recording and a
broken file; MoveNet) gives the same index id as the local builder; an interrupted build leaves
no index and its rerun reuses the cache while a pose actor is killed (SIGKILL to its own PID) and
restarted; still-frame skipping decides the same on both engines. Four Ray executions, 65-80 s
on this shared 2-core machine at load 6-9."""

from __future__ import annotations

import json
import os
import pickle
import signal
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kiosk.core.enums import Views
from kiosk.gallery import cluster
from kiosk.gallery.builder import BuildOptions, Engine, build
from kiosk.gallery.buildsummary import BuildSummary
from kiosk.gallery.extract import Filters
from kiosk.gallery.rendition import RenditionSpec
from kiosk.gallery.verify import problems
from kiosk.gallery.worker import ModelLoader, WorkerConfig
from kiosk.pose.fake import FakePoseModel

pytestmark = pytest.mark.slow

#: Small chunks, so the recording is cut in several pieces decoded on different workers.
CHUNK = 16


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory):
    import ray  # the cluster extra: scripts/test.sh installs it
    from ray import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers need KillOnce
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             object_store_memory=256 * 1024**2, _temp_dir=str(tmp_path_factory.mktemp("ray")))
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, shared_dir: Path) -> tuple[list[Path], Path]:
    from kiosk.gallery.demo import fetch_demo_assets

    files, meta = fetch_demo_assets(tmp_path_factory.mktemp("demo-assets"), mirror=shared_dir)
    bad = files[0].parent / "zz-broken.jpg"
    bad.write_bytes(b"\xff\xd8 not really a jpeg")
    # The demo gallery's photos, plus the recording the demo replays: a video cut in chunks.
    return [*files, shared_dir / "data/recordings/pose_squats.mp4", bad], meta


@pytest.fixture(scope="module")
def options(demo, models_dir: Path) -> BuildOptions:
    _, meta = demo
    return BuildOptions(fps=5.0, model="movenet-lightning", models_dir=models_dir, mirror=True,
                        metadata=(meta,), chunk_frames=CHUNK)


@pytest.fixture(scope="module")
def local(demo, options: BuildOptions, tmp_path_factory) -> BuildSummary:
    files, _ = demo
    return build(files, tmp_path_factory.mktemp("local") / "idx", options, progress=False)


@dataclass(frozen=True)
class KillOnce:
    """Model factory whose model SIGKILLs its own process on its `after`-th frame, once per
    build (the marker file is created exclusively by the one that dies)."""

    inner: ModelLoader
    marker: Path
    after: int

    def __call__(self) -> Any:
        return _Killer(self.inner(), self.marker, self.after)


class _Killer:
    """A PoseModel (the build sees persons through kiosk.pose.views around it)."""

    def __init__(self, model: Any, marker: Path, after: int) -> None:
        self.model, self.marker, self.after, self.calls = model, marker, after, 0
        self.name, self.family, self.delegate = model.name, model.family, model.delegate
        self.sha256, self.input_size, self.preprocess = model.sha256, model.input_size, model.preprocess
        self.last_timings = model.last_timings

    def estimate(self, rgb: Any, margin: float = 0.0) -> Any:
        self.calls += 1
        if self.calls == self.after:
            try:
                fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                pass
            else:
                os.write(fd, str(os.getpid()).encode())
                os.close(fd)
                os.kill(os.getpid(), signal.SIGKILL)
        return self.model.estimate(rgb, margin)


def test_demo_archive_on_ray_gives_the_local_index_id(
    ray_cluster, demo, options, local, tmp_path, capfd
) -> None:
    files, _ = demo
    out = tmp_path / "idx"
    s = build(files, out, replace(options, engine=Engine.RAY, cache_dir=tmp_path / "cache"))
    assert s.index_id == local.index_id
    assert problems(out, deep=True) == []
    assert s.sources_read == local.sources_read == len(files) - 1
    assert len(s.sources_extracted) == s.sources_read and s.frames_seen == local.frames_seen
    # Candidates rendered on the workers that the dedupe dropped are not left in the cache.
    cached = [p for p in (tmp_path / "cache/renditions").rglob("*") if p.is_file()]
    assert len(cached) == s.entries
    assert any(f == "zz-broken.jpg" and "not a readable image" in r for f, r in s.skipped)
    assert sorted(s.skipped) == sorted(local.skipped)  # the same reasons, word for word
    err = capfd.readouterr().err
    n = len(files)
    assert "extracting on ray [" in err and f"{n}/{n} sources, {s.frames_seen} frames" in err


def test_interrupted_build_leaves_no_index_and_a_rerun_with_a_killed_worker_completes(
    ray_cluster, demo, options, local, models_dir, tmp_path, monkeypatch
) -> None:
    """Interrupted after 3 finished sources: no index, no temp dir. The rerun reuses those from
    the cache, and one of its pose actors is SIGKILLed on its 10th frame: the actor is
    restarted, its batch retried, and the index is complete, verifies and has the local id."""
    files, _ = demo
    out, cache = tmp_path / "idx", tmp_path / "cache"
    opts = replace(options, engine=Engine.RAY, cache_dir=cache)
    real, done = cluster._finish, []

    def finish_then_interrupt(*args: Any) -> None:
        real(*args)
        done.append(args[0])
        if len(done) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(cluster, "_finish", finish_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        build(files, out, opts, progress=False)
    assert not out.exists() and not list(tmp_path.glob(".idx.*"))
    monkeypatch.setattr(cluster, "_finish", real)

    marker = tmp_path / "killed"
    factory = KillOnce(ModelLoader("movenet-lightning", models_dir), marker, after=10)
    s = build(files, out, opts, progress=False, model_factory=factory)
    assert marker.is_file(), "no actor was killed: the test proves nothing"
    assert len(s.sources_cached) >= 3
    assert len(s.sources_extracted) == local.sources_read - len(s.sources_cached)
    assert s.frames_seen == local.frames_seen
    assert problems(out, deep=True) == []
    assert s.index_id == local.index_id


def test_skip_still_same_on_both_engines_and_saves_model_runs(
    ray_cluster, shared_dir, options, tmp_path
) -> None:
    video = [shared_dir / "data/recordings/pose_squats.mp4"]
    opts = replace(options, metadata=(), mirror=False, still_threshold=2.0)
    local = build(video, tmp_path / "local", opts, progress=False)
    on_ray = build(video, tmp_path / "ray", replace(opts, engine=Engine.RAY), progress=False)
    assert on_ray.index_id == local.index_id
    skipped = local.discarded["unchanged frame"]
    assert 0 < skipped < local.frames_seen == 65


def test_without_ray_the_message_names_the_extra(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(cluster.ClusterUnavailable, match=r"pip install '\.\[cluster\]'"):
        cluster.import_ray()


# ---- the two stages in-process (no cluster): what each row carries -------------------------
def _chunk_batch(path: Path, kind: str) -> dict[str, np.ndarray]:
    return {"source": np.array([0]), "chunk": np.array([0]), "path": np.array([str(path)], dtype=object),
            "name": np.array([path.name], dtype=object), "kind": np.array([kind], dtype=object),
            "start": np.array([0.0]), "end": np.array([np.nan])}


def _concat(rows: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([r[k] for r in rows]) for k in rows[0]}


class _Boom(FakePoseModel):
    """A PoseModel whose every estimate fails."""

    def __init__(self) -> None:
        super().__init__([[]])

    def estimate(self, rgb: Any, margin: float = 0.0) -> Any:
        raise ValueError("bad tensor")


@pytest.fixture()
def worker_cfg(tmp_path: Path) -> WorkerConfig:
    return WorkerConfig(fps=2.0, every_person=False, mirror=True, filters=Filters(), spec=RenditionSpec(),
                        cache_dir=tmp_path, model_name="movenet-lightning", model_sha256="",
                        views=Views.CROPS)


def test_stages_in_process_frame_rows_carry_poses_and_renditions(shared_dir, models_dir, worker_cfg) -> None:
    photo = shared_dir / "data/posenet-demo-images/frisbee.jpg"
    rows = list(cluster.decode_chunk(_chunk_batch(photo, "image"), fps=2.0, still_threshold=0.0))
    assert [bool(r["end"][0]) for r in rows] == [False, True] and int(rows[1]["count"][0]) == 1
    actor = cluster.PoseActor.using(ModelLoader("movenet-lightning", models_dir), worker_cfg)()
    out = actor(_concat(rows))
    assert "frame" not in out and list(out["error"]) == ["", ""]
    record = json.loads(out["record"][0])
    assert record["t"] is None and len(record["poses"]) == 1
    assert len(pickle.loads(out["renditions"][0])) == 2  # the pose and its mirror image


def test_stages_in_process_errors_become_rows(tmp_path, shared_dir, worker_cfg) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 nope")
    (row,) = cluster.decode_chunk(_chunk_batch(broken, "image"), fps=2.0, still_threshold=0.0)
    assert row["end"][0] and "broken.jpg: not a readable image" in row["error"][0]
    photo = shared_dir / "data/posenet-demo-images/frisbee.jpg"
    rows = list(cluster.decode_chunk(_chunk_batch(photo, "image"), fps=2.0, still_threshold=0.0))
    out = cluster.PoseActor.using(_Boom, worker_cfg)()(_concat(rows))
    assert list(out["error"]) == ["ValueError: bad tensor", ""]
