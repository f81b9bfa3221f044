"""How every suite turns repeated timings into a figure: the median, and the spread (lowest and
highest repeat) beside it, warm-up excluded."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def seconds(run: Callable[[], object], repeats: int) -> list[float]:
    """Seconds of each of `repeats` calls of `run`, after one warm-up call."""
    run()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return times


def record(results: dict[str, Any], name: str, values: list[float]) -> float:
    """Stores the median of `values` as `name` and [lowest, highest] as `name_spread`; returns the median."""
    median = statistics.median(values)
    results[name] = median
    results[f"{name}_spread"] = [min(values), max(values)]
    return median
