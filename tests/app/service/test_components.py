from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kiosk.app.service import components
from kiosk.app.service.components import Overrides, default_config_path, load_model
from kiosk.app.service.config import parse_config


class Model:
    def __init__(self, name: str, delegate: str) -> None:
        self.name, self.delegate = name, delegate


def fake_engine(monkeypatch: pytest.MonkeyPatch, has_tpu: bool) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []

    def load_pose_model(name: str, *, delegate: str, **kwargs: Any) -> Model:
        calls.append({"name": name, "delegate": delegate, **kwargs})
        if delegate == "edgetpu" and not has_tpu:
            raise RuntimeError("Edge TPU requested but unavailable")
        if delegate == "auto":
            return Model(name, "edgetpu" if has_tpu else "cpu")
        return Model(name, delegate)

    import kiosk.pose.engine

    monkeypatch.setattr(kiosk.pose.engine, "load_pose_model", load_pose_model)
    return calls


def test_auto_without_tpu_runs_on_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = fake_engine(monkeypatch, has_tpu=False)
    loaded = load_model(parse_config({"model": {"name": "movenet-lightning", "num_threads": 3,
                                                "preprocess": "coral"}}))
    assert loaded.delegate == "cpu" and loaded.warning is None
    assert calls == [{"name": "movenet-lightning", "delegate": "auto", "num_threads": 3,
                      "preprocess": "coral"}]


def test_edgetpu_without_tpu_falls_back_with_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = fake_engine(monkeypatch, has_tpu=False)
    loaded = load_model(parse_config({"model": {"delegate": "edgetpu"}}))
    assert loaded.delegate == "cpu"
    assert loaded.warning and "Edge TPU could not be used" in loaded.warning
    assert "kiosk doctor" in loaded.warning
    assert [c["delegate"] for c in calls] == ["edgetpu", "cpu"]


def test_edgetpu_with_tpu(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_engine(monkeypatch, has_tpu=True)
    assert load_model(parse_config({"model": {"delegate": "auto"}})).delegate == "edgetpu"


def test_default_config_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("KIOSK_CONFIG", raising=False)
    monkeypatch.setattr(components, "SYSTEM_CONFIG", tmp_path / "etc.yaml")
    assert default_config_path() == components.paths.CHECKOUT / "config" / "kiosk.yaml"
    (tmp_path / "etc.yaml").write_text("")
    assert default_config_path() == tmp_path / "etc.yaml"
    monkeypatch.setenv("KIOSK_CONFIG", str(tmp_path / "env.yaml"))
    assert default_config_path() == tmp_path / "env.yaml"
    assert default_config_path(tmp_path / "cli.yaml") == tmp_path / "cli.yaml"


def test_overrides(tmp_path: Path) -> None:
    config = parse_config({"camera": {"source": "picamera2"}, "index": {"path": "/x"}})
    out = Overrides(index=str(tmp_path / "idx"), source="webcam:1", replay_realtime=False, replay_loop=False,
                    status_file=str(tmp_path / "s.json")).apply(config)
    assert out.camera.source == "webcam:1"
    assert not out.camera.replay_realtime and not out.camera.replay_loop
    assert out.index_path() == tmp_path / "idx"
    assert out.status_path() == tmp_path / "s.json"
    assert Overrides().apply(config) == config


def test_an_empty_model_name_without_index_loads_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    from kiosk.app.service.modelchoice import default_model

    calls = fake_engine(monkeypatch, has_tpu=False)
    load_model(parse_config({}))
    assert calls[0]["name"] == default_model()
