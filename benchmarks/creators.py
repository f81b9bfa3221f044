"""Creator suite: scoring and ranking whole cohorts, the Rust kernel vs the pure-Python
reference, same generated creators, one process.

Figures:
- creators/s and seconds per call of `xiaodian.creators.scoring.score_cohorts` (the kernel
  behind ScoreCreators: three mid-rank percentile columns, the weighted score, tiers and the
  rank order; one cohort; single-threaded, GIL released) at 1M and 10M creators, median of the
  repeats after one warm-up call; the input columns are `array` buffers, as the service's are;
- creators/s of `xiaodian.reference.creators.score_cohorts` on the 1M cohort (one run: it takes
  tens of seconds), and the ratio Rust / reference at the same size.
Goal (issue 6): 10M creators scored and ranked in <= 3 s on one core; >= 30x the reference.
"""

from __future__ import annotations

import json
import random
import sys
import time
from array import array
from typing import Any

from benchmarks import measure

SEED = 20261128


def _cohort(n: int, seed: int = SEED) -> tuple[array[int], array[float], array[int]]:
    """Long-tailed GMV and followers with many ties at 0, sales scores on a 0.1 grid."""
    rng = random.Random(seed)
    pareto, lognormal, triangular = rng.paretovariate, rng.lognormvariate, rng.triangular
    gmv = array("q", (int(pareto(1.1) * 50_000) - 50_000 for _ in range(n)))
    sales = array("d", (round(triangular(40.0, 100.0, 85.0), 1) for _ in range(n)))
    followers = array("q", (int(lognormal(7.0, 2.2)) for _ in range(n)))
    return gmv, sales, followers


def _measure(size: int, repeats: int, with_reference: bool) -> dict[str, Any]:
    from xiaodian.creators.scoring import score_cohorts
    from xiaodian.reference import creators as reference

    gmv, sales, followers = _cohort(size)
    label = f"{size // 1_000_000}m" if size >= 1_000_000 else f"{size // 1_000}k"
    results: dict[str, Any] = {}
    times = measure.seconds(lambda: score_cohorts(gmv, sales, followers, [size]), repeats)
    seconds = measure.record(results, f"score_rust_{label}_seconds", times)
    measure.record(results, f"score_rust_{label}_creators_per_s", [size / t for t in times])
    if with_reference:
        gmv_list, sales_list, followers_list = list(gmv), list(sales), list(followers)
        started = time.perf_counter()
        reference.score_cohorts(gmv_list, sales_list, followers_list, [size])
        reference_seconds = time.perf_counter() - started
        results[f"score_reference_{label}_creators_per_s"] = size / reference_seconds
        results["score_speedup_vs_reference"] = reference_seconds / seconds
        results["reference_size"] = size
    return results


def run(quick: bool = False) -> dict[str, Any]:
    small, large = (20_000, 200_000) if quick else (1_000_000, 10_000_000)
    repeats = 2 if quick else 3
    results = _measure(small, repeats, with_reference=True)
    large_results = _measure(large, repeats, with_reference=False)
    results.update(large_results)
    results["largest_size"] = large
    results["largest_seconds"] = next(v for k, v in large_results.items() if k.endswith("_seconds"))
    return results


def main(argv: list[str]) -> int:
    print(json.dumps(run(quick="--quick" in argv), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
