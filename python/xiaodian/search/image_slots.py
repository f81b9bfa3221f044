"""Image analysis slots: the one place that bounds how many hero images the whole server
decodes at once, and how much memory each may take.

Every analysis (`AnalyzeHeroImage`, and `UpsertProducts`/`StreamUpsertProducts` batches with
`hero_image.image_bytes`) runs inside a slot of one `threading.BoundedSemaphore` of
`SearchConfig.image_max_concurrent_analyses` slots, and passes
`SearchConfig.image_max_decoded_bytes` to the Rust analysis, which refuses (reason `memory`)
an image whose analysis would hold more, judged from its header before decoding. So the
pixel memory of all analyses together stays below slots × budget. The analysis releases the
GIL, so slots really run in parallel.

The analyses run on the slots' own `image_max_concurrent_analyses` threads, not on the gRPC
worker that took the call: the extension's allocator (mimalloc) keeps freed pages in the
thread that used them for its next allocations, so analyses spread over the gRPC pool's many
threads would each leave such a cache behind (measured: 30-45 MiB more resident per new thread
after a 4330 x 4330 16-bit PNG), while on a few threads each analysis reuses its thread's.

A caller waits for a slot as long as its deadline allows, and never more than
`MAX_WAIT_SECONDS`; without a slot by then the call is `RESOURCE_EXHAUSTED` and nothing of it
is written (images are analysed before the write transaction).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Protocol

from xiaodian import _core
from xiaodian.errors import ResourceExhausted
from xiaodian.platform.config import SearchConfig

#: Longest wait for a slot, whatever the caller's deadline (or without one).
MAX_WAIT_SECONDS = 30.0


class _Deadline(Protocol):
    def time_remaining(self) -> float | None: ...


class ImageAnalysisSlots:
    """`image_max_concurrent_analyses` slots and the memory budget of each analysis."""

    def __init__(self, max_concurrent: int, max_decoded_bytes: int, max_wait_seconds: float = MAX_WAIT_SECONDS) -> None:
        self.max_concurrent = max_concurrent
        self.max_decoded_bytes = max_decoded_bytes
        self.max_wait_seconds = max_wait_seconds
        self._slots = threading.BoundedSemaphore(max_concurrent)
        self._threads = ThreadPoolExecutor(max_concurrent, thread_name_prefix="hero-image")

    @classmethod
    def from_config(cls, config: SearchConfig) -> ImageAnalysisSlots:
        return cls(config.image_max_concurrent_analyses, config.image_max_decoded_bytes)

    @contextmanager
    def slot(self, context: _Deadline | None) -> Iterator[None]:
        """Holds one slot for the block; waits within the caller's deadline and the cap, then
        raises `ResourceExhausted`."""
        remaining = context.time_remaining() if context is not None else None
        wait = self.max_wait_seconds if remaining is None else max(0.0, min(self.max_wait_seconds, remaining))
        if not self._slots.acquire(timeout=wait):
            raise ResourceExhausted(
                f"image analysis: all {self.max_concurrent} slots stayed busy for {wait:.1f} s "
                f"(the server analyses at most {self.max_concurrent} hero images at once); nothing was "
                "written, retry later",
                metadata={"max_concurrent_analyses": str(self.max_concurrent)},
            )
        try:
            yield
        finally:
            self._slots.release()

    def analyze(self, image_bytes: bytes) -> dict[str, Any]:
        """One analysis under the memory budget, on one of the slots' threads; call it inside
        `slot` (then a thread is free)."""
        return self._threads.submit(_core.analyze_hero_image, image_bytes, self.max_decoded_bytes).result()
