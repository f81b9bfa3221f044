"""A counter shared by every process that serves one database file, so they may keep answers
in memory without asking the database whether they still hold.

The counter lives in a small file beside the database (`<database>-epoch`), mapped into
each process's memory: reading it is one memory load (no system call, no SQLite call, no
GIL hand-off), advancing it takes an exclusive `flock` on the file so that no two processes
lose an increment.

The rule, for a cache of what the database says:
- a reader takes `current()` *before* it reads the database, and keeps its answer under that
  value; it gives a kept answer only while `current()` still equals it;
- a writer that changes what such readers read calls `advance()` after its commit and before
  it answers its own caller (`Database.after_commit`).
Then a kept answer is never older than a write that has been acknowledged: a write committed
after the reader took the epoch advances it past the answer's. A process that dies between
its commit and `advance()` leaves the others' answers stale; the supervisor of
`serve --workers` advances the epoch whenever it reaps a worker that died unexpectedly.
"""

from __future__ import annotations

import fcntl
import mmap
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_SIZE = 8  # one native unsigned 64-bit integer


class Epoch:
    def __init__(self, database_path: str | Path) -> None:
        self.path = Path(f"{database_path}-epoch")
        with self._locked() as fd:
            if os.fstat(fd).st_size < _SIZE:
                os.ftruncate(fd, _SIZE)  # zero-filled: epoch 0
            # The map keeps its own duplicate of the descriptor, which `mmap` closes with it.
            self._word = memoryview(mmap.mmap(fd, _SIZE)).cast("Q")  # an aligned 64-bit word

    def current(self) -> int:
        value: int = self._word[0]
        return value

    def advance(self) -> None:
        """Rare (a write that invalidates caches): opens the file for the lock each time."""
        with self._locked():
            self._word[0] = (self._word[0] + 1) % 2**64

    @contextmanager
    def _locked(self) -> Iterator[int]:
        """The file, open and under an exclusive `flock` (its own open file, so the lock also
        excludes other threads of this process) for the block."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield fd
            finally:
                # Explicitly: a duplicate of `fd` (the map's) would keep the lock past close.
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


class TableEpoch:
    """The epoch of a PostgreSQL database, which servers on many machines share: one row of
    `platform_epoch` (migration `platform-0002-epoch`). The rule above holds as it is; reading
    costs one indexed query instead of a memory load. `connection` gives the calling thread's
    connection (`Database.connection`)."""

    def __init__(self, connection: Callable[[], Any]) -> None:
        self._connection = connection

    def current(self) -> int:
        row = self._connection().execute("SELECT value FROM platform_epoch").fetchone()
        return int(row[0]) if row else 0

    def advance(self) -> None:
        self._connection().execute("UPDATE platform_epoch SET value = value + 1")
