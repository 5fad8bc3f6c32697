"""Matcher.warm_up compiles every search kernel a visitor's pose can reach: after it, a kiosk's
queries (whole, seated, partial poses) and the calibration of a new profile compile nothing
more, so no visitor waits for a compiler (a kernel's first compilation takes 0.3-10 s).

A fresh interpreter per check: numba dispatchers count the specialisations they hold, and a
test process may have compiled some already."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.core.jit import use_numba
from tests.app.kiosk_process import build_index

pytestmark = pytest.mark.slow

#: Runs in a fresh interpreter: argv = index directory, seed. Prints the dispatchers'
#: specialisation counts after the warm-up and after the queries, and the profiles queried.
SCRIPT = """
import json, sys
from pathlib import Path

import numpy as np
from numba.core.registry import CPUDispatcher

from kiosk.app.mirror.matcher import Matcher
from kiosk.gallery.reader import GalleryIndex
from kiosk.match.visible import choose_profile
from kiosk.pose.types import Pose


def compiled():
    return {f"{name}.{attr}": len(value.signatures) for name, module in list(sys.modules.items())
            if name.startswith("kiosk.") for attr, value in vars(module).items()
            if isinstance(value, CPUDispatcher)}


index = GalleryIndex.open(Path(sys.argv[1]))
# tables computed in this thread (the kiosk's background thread runs the same profile_table):
# no calibration thread compiles behind the snapshots' backs
matcher = Matcher(index, "trimmed", 0.35, 0.03, wait_for_tables=True)
matcher.warm_up()
before = compiled()
rng = np.random.default_rng(int(sys.argv[2]))
profiles = set()
for row in np.asarray(index.keypoints()):
    for unseen in (0, 2, 4, 6, 8):
        scores = np.ones(17)
        scores[rng.choice(17, unseen, replace=False)] = 0.0
        matcher.candidates(Pose(row[:, :2] + rng.normal(0.0, 3.0, (17, 2)), scores), k=3)
        profile = choose_profile(scores)
        if profile is not None:
            index.profile_table(profile, wait=True, metric="trimmed")  # a new profile's calibration
            profiles.add(str(profile))
print(json.dumps({"before": before, "after": compiled(), "profiles": sorted(profiles)}))
"""


@pytest.fixture(scope="module")
def index_dir(shared_dir: Path, models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("matcher") / "index"
    build_index(shared_dir, models_dir, "a", out)
    return out


@pytest.mark.skipif(not use_numba(), reason="numba is not in use: nothing is compiled")
@pytest.mark.parametrize("seed", [0, 1])
def test_after_the_warm_up_no_query_compiles_a_kernel(index_dir: Path, seed: int) -> None:
    env = {k: v for k, v in os.environ.items() if k != "KIOSK_NO_NUMBA"}
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(index_dir), str(seed)], env=env,
                            capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.splitlines()[-1])
    assert seen["before"]["kiosk.match.trimmed_kernel.trimmed_gather"] >= 1
    assert seen["before"]["kiosk.match.trimmed_kernel.tree_search"] >= 1
    assert any(p.startswith("(") for p in seen["profiles"]), seen["profiles"]  # a dynamic profile
    assert len(seen["profiles"]) >= 4, seen["profiles"]
    grown = {k: (seen["before"].get(k, 0), n) for k, n in seen["after"].items()
             if n > seen["before"].get(k, 0)}
    assert not grown, f"compiled after the warm-up (kernel: (before, after)): {grown}"
