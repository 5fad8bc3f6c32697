from __future__ import annotations

import re
from pathlib import Path

import pytest

from kiosk.app.service.config import KioskConfig
from kiosk.app.service.schema import iter_docs
from kiosk.core.enums import (
    EXIT_CODE_MEANING,
    Delegate,
    ExitCode,
    Metric,
    Preprocess,
    ScreenLayout,
    ServiceState,
)
from kiosk.core.keypoints import FLIP_INDEX, KEYPOINT_NAMES, NUM_KEYPOINTS, SKELETON
from kiosk.match import query_status as qs

CHECKOUT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("key", "enum"), [("model.delegate", Delegate), ("model.preprocess", Preprocess),
                                           ("index.metric", Metric), ("display.layout", ScreenLayout)])
def test_config_choices_come_from_the_enum(key: str, enum: type) -> None:
    import dataclasses

    section, name = key.split(".")
    cls = type(getattr(KioskConfig(), section))
    field = {f.name: f for f in dataclasses.fields(cls)}[name]
    assert tuple(field.metadata["choices"]) == enum.values()
    assert key in {k for k, _d, _doc in iter_docs(KioskConfig)}


@pytest.mark.parametrize(("enum", "value"), [(Delegate, "gpu"), (Metric, "l2"), (Preprocess, "crop")])
def test_parse_names_the_allowed_values(enum: type, value: str) -> None:
    with pytest.raises(ValueError, match=", ".join(enum.values())):
        enum.parse(value, "thing")


def test_members_are_their_strings() -> None:
    assert Delegate.EDGETPU == "edgetpu" and f"{Metric.WEIGHTED}" == "weighted"


def test_deploy_script_checks_the_healthy_service_states() -> None:
    text = (CHECKOUT / "scripts" / "deploy.sh").read_text()
    m = re.search(r"case \$state in\n\s*([a-z|]+)\) S_HEALTHY=yes", text)
    assert m, "scripts/deploy.sh no longer lists the healthy states"
    assert set(m.group(1).split("|")) == {s.value for s in ServiceState.healthy()}


def test_every_exit_code_is_explained() -> None:
    assert set(EXIT_CODE_MEANING) == set(ExitCode)


def test_keypoint_tables_agree() -> None:
    assert NUM_KEYPOINTS == len(KEYPOINT_NAMES) == len(FLIP_INDEX) == 17
    assert all(0 <= a < NUM_KEYPOINTS and 0 <= b < NUM_KEYPOINTS for a, b in SKELETON)
    for i, j in enumerate(FLIP_INDEX):
        assert KEYPOINT_NAMES[j] == KEYPOINT_NAMES[i].replace("left", "@").replace("right", "left").replace(
            "@", "right")


@pytest.mark.parametrize("row", [0, 1, 7, 12345])
@pytest.mark.parametrize("problem", list(qs.QueryProblem))
def test_query_status_round_trip(row: int, problem: qs.QueryProblem) -> None:
    assert qs.decode(qs.encode(row, problem)) == (row, problem)
    assert problem.describe()
