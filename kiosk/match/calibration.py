"""Calibrated distances: one unit for every metric, from the archive's own spacing.

At build time the distance from a sample of archive poses to their nearest neighbour *from
another source* (mirrored twins and frames of one video are one source) is measured with each
metric (with each profile of the ``visible`` metric). Its 101 percentiles form a table, stored
in the index manifest. A raw distance d then maps to the calibrated unit

    u = F(d)  in [0, 1] inside the table (F: the empirical CDF, linearly interpolated),
    u = 1 + (d - q100) / q100 beyond it (still increasing: far poses stay far),
    u = (d - q0) / q0 in [-1, 0) below it (still increasing: an identical pose is -1),

so ``match.max_distance: 0.1`` means "closer than 90 % of archive poses are to their nearest
other pose" under every metric, and ``match.hysteresis_margin`` is a difference of such units.

Below q0 the CDF is flat: it would give 0 to every pose closer than the archive's two closest
sources, so the frames of one video (or a visitor the archive holds closely) would all tie at 0
and the kiosk could not tell the visitor's squat from their stance. The extension keeps those
differences, on the scale of q0 (as the top extension uses q100).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np

log = logging.getLogger(__name__)

CALIBRATION_VERSION = 1
LEVELS = np.linspace(0.0, 1.0, 101)
#: Archive poses sampled as queries when calibrating (per metric or profile).
DEFAULT_SAMPLE = 400


def quantile_table(nn: np.ndarray) -> list[float]:
    """101 strictly increasing percentiles of nearest-neighbour distances nn (M,) (finite)."""
    d = np.asarray(nn, dtype=np.float64)
    d = d[np.isfinite(d)]
    if len(d) == 0:
        raise ValueError("no finite nearest-neighbour distance to calibrate on")
    q = np.quantile(d, LEVELS)
    q = np.maximum.accumulate(np.maximum(q, 0.0)) + np.arange(101) * 1e-9  # strictly increasing
    return [float(x) for x in q]


def to_unit(d: float | np.ndarray, table: list[float] | np.ndarray) -> float | np.ndarray:
    """Raw distance(s) -> calibrated unit (see the module doc); inf stays inf."""
    t = np.asarray(table, dtype=np.float64)
    x = np.asarray(d, dtype=np.float64)
    top, bottom = max(t[-1], 1e-9), max(t[0], 1e-9)
    inside = np.interp(x, t, LEVELS)
    u = np.where(x > t[-1], 1.0 + (x - t[-1]) / top,
                 np.where(x < t[0], np.maximum((x - t[0]) / bottom, -1.0), inside))
    return float(u) if np.ndim(u) == 0 else u


def from_unit(u: float, table: list[float] | np.ndarray) -> float:
    """Calibrated unit -> raw distance (the inverse of to_unit)."""
    t = np.asarray(table, dtype=np.float64)
    if u < 0.0:
        return float(max(t[0] + u * max(t[0], 1e-9), 0.0))
    if u <= 1.0:
        return float(np.interp(u, LEVELS, t))
    return float(t[-1] + (u - 1.0) * max(t[-1], 1e-9))


def sample_rows(n: int, sample: int, seed: int = 0) -> np.ndarray:
    """Sorted row indices: all n when n <= sample, else `sample` drawn without replacement."""
    if n <= sample:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=sample, replace=False))


def nn_other_source(
    distances: Callable[[int], np.ndarray], rows: np.ndarray, groups: np.ndarray
) -> np.ndarray:
    """(len(rows),) distance of each row to its nearest row of another group.

    distances(i) gives the (N,) distances from row i to every row; groups (N,) source ids.
    Rows with no other group give inf.
    """
    g = np.asarray(groups)
    out = np.full(len(rows), np.inf)
    for j, i in enumerate(rows):
        d = np.asarray(distances(int(i)), dtype=np.float64)
        d = d[g != g[i]]
        if len(d):
            out[j] = float(d.min())
    return out
