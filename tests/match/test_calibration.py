"""Calibrated units: a monotone map from raw distances, invertible, the same for every metric."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from kiosk.match.calibration import from_unit, nn_other_source, quantile_table, to_unit


def test_units_are_the_archive_quantiles_and_invert() -> None:
    nn = np.random.default_rng(0).gamma(2.0, 0.1, 500)
    t = quantile_table(nn)
    assert len(t) == 101 and all(b > a for a, b in itertools.pairwise(t))
    assert to_unit(np.quantile(nn, 0.2), t) == pytest.approx(0.2, abs=0.01)
    for u in (-1.0, -0.4, 0.0, 0.05, 0.5, 1.0, 1.7):
        assert to_unit(from_unit(u, t), t) == pytest.approx(u, abs=1e-6)
    d = np.linspace(0, 3 * t[-1], 50)
    assert np.all(np.diff(to_unit(d, t)) >= 0)


def test_poses_closer_than_any_two_sources_stay_apart() -> None:
    # the frames of one video are closer to each other than any two sources of the archive:
    # below the table's smallest distance units keep increasing, from -1 (identical) to 0
    t = quantile_table(np.random.default_rng(2).uniform(0.2, 0.6, 200))
    d = np.linspace(0.0, t[0], 9)
    u = to_unit(d, t)
    assert u[0] == pytest.approx(-1.0) and u[-1] == pytest.approx(0.0, abs=1e-6)
    assert np.all(np.diff(u) > 0)
    assert to_unit(t[0] / 2, t) == pytest.approx(-0.5)


def test_scale_does_not_change_units() -> None:
    nn = np.random.default_rng(1).gamma(2.0, 0.1, 300)
    t1, t2 = quantile_table(nn), quantile_table(nn * 40.0)
    assert to_unit(0.13, t1) == pytest.approx(to_unit(0.13 * 40.0, t2), abs=1e-6)


def test_nearest_neighbour_skips_the_same_source() -> None:
    x = np.array([0.0, 0.1, 5.0, 5.2])
    groups = np.array([0, 0, 1, 1])
    nn = nn_other_source(lambda i: np.abs(x - x[i]), np.arange(4), groups)
    np.testing.assert_allclose(nn, [5.0, 4.9, 4.9, 5.1])
    assert np.isinf(nn_other_source(lambda i: np.abs(x - x[i]), np.arange(4), np.zeros(4))).all()


def test_no_finite_distance_is_refused() -> None:
    with pytest.raises(ValueError, match="no finite"):
        quantile_table(np.array([np.inf]))
