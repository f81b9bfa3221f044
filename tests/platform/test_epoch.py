"""The database epoch (`platform.epoch`): shared by every process of one database file, and
advanced exactly once per `advance()` however many processes and threads advance at once."""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path

import pytest
from xiaodian.platform.epoch import Epoch

pytestmark = pytest.mark.backend_independent  # run in the SQLite pass only

PROCESSES = 3
THREADS = 2
ADVANCES = 200


def _advance_from_threads(database: str) -> None:
    epoch = Epoch(database)
    threads = [threading.Thread(target=lambda: [epoch.advance() for _ in range(ADVANCES)]) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_a_new_epoch_starts_at_zero_and_every_process_sees_each_advance(tmp_path: Path) -> None:
    database = tmp_path / "x.db"
    first, second = Epoch(database), Epoch(database)
    assert (first.current(), second.current()) == (0, 0)
    first.advance()
    assert (first.current(), second.current()) == (1, 1)
    assert Epoch(database).current() == 1  # kept in the file
    assert Epoch(tmp_path / "other.db").current() == 0  # one epoch per database


def test_concurrent_advances_from_processes_and_threads_are_all_counted(tmp_path: Path) -> None:
    database = str(tmp_path / "x.db")
    epoch = Epoch(database)
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_advance_from_threads, args=(database,)) for _ in range(PROCESSES)]
    for process in processes:
        process.start()
    _advance_from_threads(database)
    for process in processes:
        process.join(timeout=120)
        assert process.exitcode == 0
    assert epoch.current() == (PROCESSES + 1) * THREADS * ADVANCES
