"""kiosk.fleet.status: a kiosk's own record and the fleet table (the sshd round trip is in
tests/scripts/test_fleet.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kiosk.core.sensors import Throttling
from kiosk.fleet.status import COLUMNS, local_record, table

SHA = "ab" * 32


class FixedSensors:
    def temperature_c(self) -> float | None:
        return 61.4

    def throttling(self) -> Throttling | None:
        return None


def release_root(tmp_path: Path) -> Path:
    (tmp_path / "releases" / "idx-a").mkdir(parents=True)
    (tmp_path / "current").symlink_to("releases/idx-a")
    return tmp_path


def status(**changes: Any) -> dict[str, Any]:
    return {"index_id": "idx-a", "model": "movenet-lightning", "delegate": "cpu", "state": "running",
            "fps": 59.7, "pose_rate": 9.3, "started_unix": 1000.0, **changes}


@pytest.mark.parametrize(("deployed", "cell"), [(SHA, SHA[:12]), (None, "-")])
def test_the_record_and_the_table_show_the_deployed_config(tmp_path: Path, deployed: str | None,
                                                           cell: str) -> None:
    record = local_record(status(deployed_config=deployed), [], release_root(tmp_path), FixedSensors(),
                          now=1060.0)
    assert record["config"] == deployed and record["current"] == "idx-a" and record["ok"]
    record["host"] = "kiosk-1"
    head, row = table([record]).splitlines()
    assert head.split()[:4] == [h for _, h in COLUMNS[:4]] == ["HOST", "INDEX", "CONFIG", "MODEL"]
    assert row.split()[:4] == ["kiosk-1", "idx-a", cell, "movenet-lightning"]


def test_a_problem_shows_in_the_last_error_column(tmp_path: Path) -> None:
    record = local_record(status(), ["the status file is stale"], release_root(tmp_path), FixedSensors())
    record["host"] = "kiosk-1"
    assert not record["ok"]
    assert table([record]).splitlines()[1].endswith("the status file is stale")
