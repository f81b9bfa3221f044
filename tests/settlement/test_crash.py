"""kill -9 of the real server process while a client streams acknowledged RecordOrder batches
(SPEC §5: an acknowledged write survives kill -9)."""

from __future__ import annotations

from benchmarks.crash import run_trials


def test_acknowledged_orders_survive_kill_9_and_retries_write_nothing_twice(tmp_path, database_url) -> None:
    soak = run_trials(20, data_dir=tmp_path, seed=20261128, database_url=database_url)
    assert soak.trials == 20
    # The kills did land mid-stream: some batches were acknowledged, some had to be retried.
    assert soak.acknowledged_batches > 0
    assert soak.retried_batches > 0
    assert soak.lost_orders == 0
    assert soak.duplicated_orders == 0
    assert soak.half_written == 0
    assert soak.unbalanced == 0
