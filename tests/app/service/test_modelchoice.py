"""Which pose model runs for an index: the index's by default; a mismatch is named with its fix."""

from __future__ import annotations

import pytest

from kiosk.app.service.modelchoice import choose_model, compatible, default_model


@pytest.mark.parametrize("configured, index_model, runs, mismatch", [
    ("", "posenet-481x641", "posenet-481x641", False),  # the default: the index's model
    ("", None, None, False),  # no index: the manifest's default model
    ("movenet-lightning", "movenet-lightning", "movenet-lightning", False),
    ("movenet-lightning", "posenet-481x641", "movenet-lightning", True),
    ("posenet-353x481-components", "posenet-353x481", "posenet-353x481-components", False),  # same network
    ("posenet-353x481", "posenet-481x641", "posenet-353x481", True),  # another input size
    ("movenet-lightning", None, "movenet-lightning", False),
])
def test_choose_model(configured: str, index_model: str | None, runs: str | None, mismatch: bool) -> None:
    choice = choose_model(configured, index_model)
    assert choice.name == (runs or default_model())
    assert (choice.mismatch is not None) is mismatch
    if mismatch:
        assert index_model in choice.mismatch and "model.name" in choice.mismatch


def test_compatible_is_symmetric_and_unknown_names_only_match_themselves() -> None:
    assert compatible("posenet-353x481", "posenet-353x481-components")
    assert compatible("posenet-353x481-components", "posenet-353x481")
    assert not compatible("movenet-lightning", "posenet-481x641")
    assert compatible("/models/mine.tflite", "/models/mine.tflite")
    assert not compatible("/models/mine.tflite", "movenet-lightning")
