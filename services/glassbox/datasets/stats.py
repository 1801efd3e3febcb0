"""Small statistics for comparisons: means, percentiles and a seeded percentile bootstrap. Plain Python, pure.

The bootstrap resamples the *paired* per-item differences (B − A on the same items) with
replacement, ``resamples`` times, and takes the mean of each resample; the confidence interval
is the pair of percentiles around the middle ``confidence`` share of those means. The random
generator is seeded, so a comparison prints the same interval every time it runs.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

DEFAULT_RESAMPLES = 2000
DEFAULT_SEED = 20_240_601


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) with linear interpolation between closest ranks; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    if len(ordered) == 1:
        return float(ordered[0])
    rank = (len(ordered) - 1) * min(max(q, 0.0), 100.0) / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    return float(ordered[low] + (ordered[high] - ordered[low]) * (rank - low))


def bootstrap_ci(
    values: Sequence[float],
    *,
    confidence: float = 0.95,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> tuple[float, float] | None:
    """Percentile-bootstrap confidence interval of the mean of ``values``; None when there are none.

    One value gives the degenerate interval (v, v): with a single item there is no spread to measure.
    """
    if not values:
        return None
    if len(values) == 1 or max(values) == min(values):
        return float(values[0]), float(values[0])
    rng = random.Random(seed)
    n = len(values)
    means = sorted(sum(rng.choices(values, k=n)) / n for _ in range(resamples))
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = percentile(means, tail), percentile(means, 100.0 - tail)
    assert low is not None and high is not None
    return low, high
