"""Images suite: hero-image analyses per second for 800x800 JPEG and PNG, the Rust analysis
vs the Pillow + imagehash reference, side by side in one process on the same pictures.

Pictures are product-shot-like (white background, coloured shapes), drawn with a seeded
random generator; every analysis runs on one thread, timed round-robin over the pictures after
one warm-up pass; the figure is analyses / second and the ratio Rust / reference.
"""

from __future__ import annotations

import io
import json
import random
import sys
from collections.abc import Callable
from typing import Any

from benchmarks import measure

SIDE = 800


def pictures(count: int, fmt: str) -> list[bytes]:
    from PIL import Image, ImageDraw

    out = []
    for seed in range(count):
        rng = random.Random(seed)
        image = Image.new("RGB", (SIDE, SIDE), (255, 255, 255))
        draw = ImageDraw.Draw(image)
        for _ in range(15):
            x0, y0 = rng.randrange(SIDE // 2), rng.randrange(SIDE // 2)
            x1, y1 = x0 + rng.randrange(40, SIDE // 2), y0 + rng.randrange(40, SIDE // 2)
            colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
            (draw.rectangle if rng.random() < 0.5 else draw.ellipse)((x0, y0, x1, y1), fill=colour)
        buffer = io.BytesIO()
        image.save(buffer, fmt, **({"quality": 85} if fmt == "JPEG" else {}))
        out.append(buffer.getvalue())
    return out


def rates(analyze: Callable[[bytes], object], images: list[bytes], rounds: int) -> list[float]:
    """Analyses per second of each round (one pass over every picture), after a warm-up pass."""

    def one_pass() -> None:
        for data in images:
            analyze(data)

    return [len(images) / s for s in measure.seconds(one_pass, rounds)]


def run(quick: bool = False) -> dict[str, Any]:
    from functools import partial

    from xiaodian import _core
    from xiaodian.platform.config import SearchConfig
    from xiaodian.reference import hero

    analyze = partial(_core.analyze_hero_image, max_decoded_bytes=SearchConfig().image_max_decoded_bytes)

    count, rounds = (4, 2) if quick else (20, 5)
    results: dict[str, Any] = {"side_px": SIDE, "pictures": count}
    for fmt in ("JPEG", "PNG"):
        images = pictures(count, fmt)
        key = fmt.lower()
        rust = measure.record(results, f"{key}_rust_per_s", rates(analyze, images, rounds))
        reference = measure.record(
            results, f"{key}_reference_per_s", rates(hero.analyze_hero_image, images, max(1, rounds // 2))
        )
        results[f"{key}_speedup_vs_reference"] = rust / reference
    return results


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv[1:]), indent=2))
