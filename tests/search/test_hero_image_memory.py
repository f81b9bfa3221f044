"""Hero images within a memory budget (issue 19, part 5): the budget is checked from the header
before any pixel buffer exists (reason `memory`), and the image analysis slots bound how many
analyses the whole server runs at once (`RESOURCE_EXHAUSTED` when none frees in time).

The end-to-end test starts the real server in a subprocess and measures its peak RSS while
worst-case images (the largest accepted) and the bug report's over-budget 7000 x 7000 16-bit
PNGs arrive in parallel."""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from PIL import Image
from xiaodian import Client, _core, errors
from xiaodian.errors import InvalidArgument, ResourceExhausted
from xiaodian.platform.config import SearchConfig
from xiaodian.search.image_slots import ImageAnalysisSlots
from xiaodian.v1 import search_service_pb2 as pb

pytestmark = pytest.mark.backend_independent  # image analysis memory, before anything is stored

BUDGET = SearchConfig().image_max_decoded_bytes  # 160 MiB
SLOTS = SearchConfig().image_max_concurrent_analyses  # 2
MIB = 1024 * 1024
#: The largest square 16-bit RGBA PNG within the budget: 8 s² decoded bytes, plus the resize's
#: vertical pass (s x 256 RGBA f32, 16 bytes each) while the decoded buffer is still held.
WORST_SIDE = 4330
assert 8 * WORST_SIDE**2 + WORST_SIDE * 256 * 16 <= BUDGET < 8 * (WORST_SIDE + 1) ** 2 + (WORST_SIDE + 1) * 256 * 16


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def rgba16_png(side: int, *, with_data: bool = True) -> bytes:
    """A side x side 16-bit RGBA PNG (colour type 6, depth 16): diagonal stripes, compressed
    row by row, so neither this process nor the file holds the raw pixels. Without data, the
    header claims the size and one empty IDAT follows."""
    header = png_chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 16, 6, 0, 0, 0))
    if not with_data:
        return b"\x89PNG\r\n\x1a\n" + header + png_chunk(b"IDAT", zlib.compress(b"")) + png_chunk(b"IEND", b"")
    period = 64
    base = bytes((x * 7) % 256 for x in range(side * 8 + period * 8))
    rows = [b"\x00" + base[8 * k : 8 * k + side * 8] for k in range(period)]
    compressor = zlib.compressobj(1)
    parts = [compressor.compress(rows[y % period]) for y in range(side)]
    parts.append(compressor.flush())
    idat = b"".join(parts)
    return b"\x89PNG\r\n\x1a\n" + header + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def reason_of(data: bytes, budget: int = BUDGET) -> str:
    with pytest.raises(InvalidArgument) as caught:
        _core.analyze_hero_image(data, budget)
    [violation] = caught.value.violations
    assert violation.field == "image_bytes"
    return violation.description.split(":")[0]


def test_a_header_claiming_a_huge_16_bit_picture_is_refused_for_memory_before_decoding() -> None:
    """7000 x 7000 16-bit RGBA (49 megapixels, inside the pixel limit) with no pixel data at all:
    refused for `memory`, not `corrupt`, so the check came before any pixel buffer; with a
    budget that admits it, decoding starts and finds the data missing."""
    bomb = rgba16_png(7000, with_data=False)
    assert len(bomb) < 100
    with pytest.raises(InvalidArgument) as caught:
        _core.analyze_hero_image(bomb, BUDGET)
    description = caught.value.violations[0].description
    assert description.startswith("memory: 7000x7000 Rgba16 decodes to 392000000 bytes"), description
    assert "over the budget of 167772160 bytes (160.0 MiB)" in description
    assert reason_of(bomb, budget=1 << 30) == "corrupt"


def test_the_largest_accepted_16_bit_png_is_accepted_and_one_pixel_more_is_not() -> None:
    assert reason_of(rgba16_png(WORST_SIDE + 1, with_data=False)) == "memory"
    assert reason_of(rgba16_png(WORST_SIDE, with_data=False)) == "corrupt"  # within: decoding starts
    report = _core.analyze_hero_image(rgba16_png(600), BUDGET)
    assert (report["width"], report["height"]) == (600, 600)


def test_a_progressive_jpeg_counts_the_coefficients_its_decoder_keeps() -> None:
    """A progressive JPEG is decoded from all its DCT coefficients, kept for the whole picture
    (2 bytes per sample of each component): a budget that holds the baseline encoding of the
    same picture refuses the progressive one."""
    image = Image.radial_gradient("L").resize((1200, 1200)).convert("RGB")
    encodings = {}
    for progressive in (False, True):
        out = io.BytesIO()
        image.save(out, "JPEG", quality=90, progressive=progressive, subsampling=0)
        encodings[progressive] = out.getvalue()
    # Baseline: the input copy, 1200 x 1200 x 3 decoded, then the resize pass 1200 x 256 x 16.
    baseline = len(encodings[False]) + 1200 * 1200 * 3
    resize = 1200 * 1200 * 3 + 1200 * 256 * 16
    budget = max(baseline, resize, len(encodings[True]) + 1200 * 1200 * 3)
    assert _core.analyze_hero_image(encodings[False], budget)["width"] == 1200
    assert reason_of(encodings[True], budget) == "memory"
    coefficients = 3 * 150 * 150 * 64 * 2
    assert _core.analyze_hero_image(encodings[True], len(encodings[True]) + 1200 * 1200 * 3 + coefficients)


class Deadline:
    def __init__(self, remaining: float | None) -> None:
        self.remaining = remaining

    def time_remaining(self) -> float | None:
        return self.remaining


def test_a_caller_waits_for_a_slot_within_its_deadline_then_is_resource_exhausted() -> None:
    slots = ImageAnalysisSlots(max_concurrent=2, max_decoded_bytes=BUDGET, max_wait_seconds=0.3)
    with slots.slot(Deadline(5.0)), slots.slot(None):
        for deadline in (Deadline(0.05), Deadline(None), Deadline(60.0)):  # waits <= 0.05, 0.3, 0.3 s
            with pytest.raises(ResourceExhausted) as caught, slots.slot(deadline):
                pytest.fail("no slot was free")
            assert "at most 2 hero images at once" in caught.value.message
    with slots.slot(Deadline(0.0)):  # free again: taken without waiting
        pass


def test_a_slot_freed_while_waiting_is_taken() -> None:
    slots = ImageAnalysisSlots(max_concurrent=1, max_decoded_bytes=BUDGET)
    taken = threading.Event()
    release = threading.Event()

    def holder() -> None:
        with slots.slot(None):
            taken.set()
            release.wait(10)

    thread = threading.Thread(target=holder)
    thread.start()
    assert taken.wait(10)
    release.set()
    with slots.slot(Deadline(20.0)):
        pass
    thread.join(10)


def test_no_free_slot_refuses_analysis_and_upsert_and_writes_nothing(server, client: Client) -> None:
    slots: ImageAnalysisSlots = server.search.image_slots
    slots.max_wait_seconds = 0.2
    image = rgba16_png(300)
    client.upsert_shops(shops=[pb.Shop(shop_id="s1", name="店一", opened_at=Timestamp(seconds=1_600_000_000))])
    hero = pb.HeroImage(image_bytes=image)
    product = pb.Product(product_id="p1", shop_id="s1", title="羊绒围巾 带头图", category_id="c", version=1)
    product.hero_image.CopyFrom(hero)
    with slots.slot(None), slots.slot(None):  # both of the server's slots busy
        with pytest.raises(errors.ResourceExhausted):
            client.analyze_hero_image(image_bytes=image)
        with pytest.raises(errors.ResourceExhausted):
            client.upsert_products(request_id="r1", products=[product])
        with pytest.raises(errors.ResourceExhausted):
            client.stream_upsert_products(iter([pb.StreamUpsertProductsRequest(request_id="r2", products=[product])]))
        # Without image bytes no slot is needed.
        assert client.search(query="羊绒围巾").hits == []
    assert client.search(query="羊绒围巾").hits == []  # nothing was written
    result = client.upsert_products(request_id="r1", products=[product]).results[0]
    assert result.outcome == pb.UPSERT_OUTCOME_CREATED
    assert result.hero_image.width == 300


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"{field} not in /proc/{pid}/status")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Client]]:
    process = subprocess.Popen(
        # One process (`--workers 1`): its memory is read from this pid's /proc entry.
        [sys.executable, "-m", "xiaodian.cli", "serve", "--workers", "1", "--port", "0", "--data-dir", str(tmp_path)],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "XIAODIAN_SERVER_LOG_FORMAT": "text", "XIAODIAN_METRICS_PORT": "0"},
    )
    try:
        address = None
        deadline = time.monotonic() + 60
        while address is None and time.monotonic() < deadline:
            line = process.stderr.readline() if process.stderr else ""
            if "serving address=" in line:
                address = line.split("address=")[1].split()[0]
            elif not line and process.poll() is not None:
                break
        assert address, "server did not report its address"
        # Drain the log so the server never blocks on a full pipe.
        threading.Thread(target=lambda: process.stderr and process.stderr.read(), daemon=True).start()
        with Client(address, timeout=300, data_dir=tmp_path) as client:
            yield process, client
    finally:
        process.kill()
        process.wait(30)


@cache
def worst_case_png() -> bytes:
    return rgba16_png(WORST_SIDE)


@cache
def bug_report_png() -> bytes:
    return rgba16_png(7000)


def test_parallel_worst_case_images_keep_the_server_within_slots_times_budget(served) -> None:
    """Six of the largest accepted images (4330 x 4330 16-bit RGBA, 160 MiB of analysis each by
    the figure checked) and the bug report's four 7000 x 7000 16-bit PNGs, all at once, through
    AnalyzeHeroImage and UpsertProducts. The four are refused for `memory` from their headers;
    the six pass two at a time. Bound on the server's peak RSS (VmHWM):

        baseline + image_max_concurrent_analyses (2) x budget (160 MiB)
                 + 3 x the request bytes in flight (gRPC's buffer, Python bytes, protobuf)
                 + 64 MiB (threads, the decoders' small buffers, allocator slack)

    (measured: baseline 111-114 MiB, peak 482-512 MiB, bound about 567 MiB). Without the slots six
    analyses would hold ~970 MiB; before this fix each also made an 8-bit RGB copy (~54 MiB
    more each) and the four 7000 x 7000 PNGs were decoded, 392 MB each."""
    process, client = served
    worst, bug = worst_case_png(), bug_report_png()
    assert len(worst) < 10_000_000 and len(bug) < 10_000_000
    client.upsert_shops(shops=[pb.Shop(shop_id="s1", name="店一", opened_at=Timestamp(seconds=1_600_000_000))])
    small = client.analyze_hero_image(image_bytes=rgba16_png(300)).report  # warm: code paths loaded
    assert small.width == 300
    baseline_kib = status_kib(process.pid, "VmHWM")

    def analyse(i: int) -> str:
        for _ in range(5):  # a wait beyond the 30 s cap on a slow machine: retried, bounded
            try:
                if i < 4:
                    client.analyze_hero_image(image_bytes=worst)
                elif i < 6:
                    product = pb.Product(
                        product_id=f"p{i}",
                        shop_id="s1",
                        title="羊绒围巾 带头图",
                        category_id="c",
                        version=1,
                        hero_image=pb.HeroImage(image_bytes=worst),
                    )
                    assert client.upsert_products(products=[product]).results[0].hero_image.width == WORST_SIDE
                else:
                    client.analyze_hero_image(image_bytes=bug)
                return "ok"
            except errors.ResourceExhausted:
                continue
            except errors.InvalidArgument as error:
                return error.violations[0].description.split(":")[0]
        return "exhausted"

    with ThreadPoolExecutor(10) as pool:
        outcomes = list(pool.map(analyse, range(10)))
    assert outcomes == ["ok"] * 6 + ["memory"] * 4
    peak_kib = status_kib(process.pid, "VmHWM")
    in_flight = 6 * len(worst) + 4 * len(bug)
    bound_kib = baseline_kib + (SLOTS * BUDGET + 3 * in_flight + 64 * MIB) // 1024
    print(
        f"\npeak RSS: baseline {baseline_kib / 1024:.0f} MiB, peak {peak_kib / 1024:.0f} MiB "
        f"(+{(peak_kib - baseline_kib) / 1024:.0f}), bound {bound_kib / 1024:.0f} MiB"
    )
    assert peak_kib <= bound_kib
    assert client.health() == "SERVING"
