from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kiosk.app.service.config import ConfigError, KioskConfig, load_config, parse_config
from kiosk.app.service.schema import iter_docs

CHECKOUT = Path(__file__).resolve().parents[3]
SHIPPED = CHECKOUT / "config" / "kiosk.yaml"


def test_shipped_file_is_the_defaults() -> None:
    assert load_config(SHIPPED) == KioskConfig()


def test_shipped_file_documents_every_key() -> None:
    text = SHIPPED.read_text()
    data = yaml.safe_load(text)
    for key, _default, doc in iter_docs(KioskConfig):
        node = data
        for part in key.split("."):
            assert part in node, f"config/kiosk.yaml lacks {key}"
            node = node[part]
        assert doc, f"{key} has no documentation line"
        assert doc in text, f"config/kiosk.yaml does not document {key}"


def test_empty_file_is_valid(tmp_path: Path) -> None:
    f = tmp_path / "k.yaml"
    f.write_text("")
    assert load_config(f) == KioskConfig()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"display": {"crossfade": 1}}, "display.crossfade: unknown key"),
        ({"dispaly": {}}, "dispaly: unknown key"),
        ({"match": {"max_distance": 5}}, "match.max_distance: 5.0 is above the maximum 2"),
        ({"match": {"max_distance": 0}}, "match.max_distance: 0.0 must be greater than 0"),
        ({"pose": {"min_confident_keypoints": 18}}, "pose.min_confident_keypoints: 18 is above"),
        ({"pose": {"smoothing": {"beta": -1}}}, "pose.smoothing.beta: -1.0 is below the minimum 0"),
        ({"display": {"layout": "grid"}}, "display.layout: 'grid' is not one of"),
        ({"display": {"rotation": 45}}, "display.rotation: 45 is not one of"),
        ({"pose": {"scale_views": "sometimes"}}, "pose.scale_views: 'sometimes' is not one of"),
        ({"pose": {"scale_views": True}}, "pose.scale_views: expected"),  # YAML's bare `on`
        ({"display": {"crossfade_ms": "fast"}}, "display.crossfade_ms: expected a whole number"),
        ({"display": {"crossfade_ms": True}}, "display.crossfade_ms: expected a whole number"),
        ({"camera": {"mirror": "yes"}}, "camera.mirror: expected true or false"),
        ({"camera": {"source": "usb"}}, "camera.source: 'usb' is not a camera source"),
        ({"camera": 3}, "camera: expected a mapping"),
        ([1, 2], "(top level): expected a mapping"),
    ],
)
def test_rejects_with_key_path(data: object, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(data, "test.yaml")
    assert any(p.startswith(expected) for p in info.value.problems), info.value.problems
    assert "test.yaml" in str(info.value)


def test_collects_all_problems() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"display": {"layout": "x", "max_fps": -1}, "nope": 1})
    assert len(info.value.problems) == 3


def test_valid_overrides_apply() -> None:
    cfg = parse_config({"camera": {"source": "replay:clip.mp4", "mirror": False},
                        "match": {"max_distance": 1}})
    assert cfg.camera.source == "replay:clip.mp4" and cfg.camera.mirror is False
    assert cfg.match.max_distance == 1.0 and isinstance(cfg.match.max_distance, float)
    assert cfg.display == KioskConfig().display


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text("display:\n  layout: [side\n")
    with pytest.raises(ConfigError, match=r"(?s)bad.yaml.*line \d+"):
        load_config(f)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.yaml")


def test_default_paths(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KIOSK_INDEX_ROOT", str(tmp_path))
    monkeypatch.setenv("RUNTIME_DIRECTORY", str(tmp_path / "run"))
    cfg = KioskConfig()
    assert cfg.index_path() == tmp_path / "current"
    assert cfg.status_path() == tmp_path / "run" / "status.json"
