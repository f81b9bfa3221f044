"""The plain-Python twin of the Rust hero-image analysis (`crates/xiaodian-core/src/hero/mod.rs`).

`analyze_hero_image(image_bytes)` returns the dict of `xiaodian._core.analyze_hero_image`
(width, height, format, squareness, sharpness, exposure, border_whiteness, dhash, quality) and
refuses the same inputs for the same reason, raising `xiaodian.errors.InvalidArgument` whose
one violation is `("image_bytes", "<reason>: <detail>")`. It decodes with Pillow and hashes
with imagehash, and imports nothing from the Rust extension. `dhash` is imagehash's int, in
imagehash's bit order: compare it with `reference_dhash_as_rust(report["dhash"])`.

Limits, checked in the Rust order before any pixel is decoded:
- size: more than `MAX_BYTES` (10,000,000) bytes;
- format: the leading bytes are not those of JPEG (FF D8 FF), PNG (its 8-byte signature),
  WebP (RIFF....WEBP) or BMP ("BM"), the magic numbers `image::guess_format` reads; GIF, TIFF
  and anything else are refused here;
- corrupt: Pillow cannot read the header (`Image.open` reads only the header), a JPEG is
  incomplete (below), or Pillow cannot decode the pixels (truncated or damaged data);
- dimensions: a side of 0 or more than `MAX_PIXELS` (50,000,000) pixels, from the header;
  Pillow's own `DecompressionBombError`, raised by `Image.open` above twice its
  `MAX_IMAGE_PIXELS`, is this reason too;
- animation: a PNG with an acTL chunk before its first IDAT (an APNG, as `image-png`'s
  `is_apng`), a WebP whose VP8X header has the animation flag (as `image-webp`'s
  `has_animation`), or a PNG or WebP that Pillow finds to have several frames. JPEGs are
  never refused as animated: a JPEG with a Multi-Picture (MPO) segment, such as a phone photo
  with a gain map, opens in Pillow with several frames, and the Rust decoder reads its first
  picture like any JPEG;
- a complete JPEG: its marker structure, walked segment by segment from SOI (segment payloads
  skipped by their lengths, each scan's entropy-coded data up to its next marker), reaches an
  EOI marker after a scan. Pillow alone would accept a baseline JPEG that lacks only its EOI.

The Rust analysis has one more limit, `memory`: a budget (`SearchConfig.image_max_decoded_bytes`)
on what decoding and resizing with the `image` crate would hold at once, worked out from the
header (`crates/xiaodian-core/src/hero/mod.rs`, `analysis_bytes`). It is a property of the Rust crates'
buffers, not of the signals, so this twin leaves it out: Pillow's buffers differ, and the
differential tests use pictures far below the budget.

Signals (the definitions of the Rust module documentation):
- grey = `im.convert("RGB").convert("L")`, Pillow's ITU-R 601 luma
  `(19595 R + 38470 G + 7471 B + 32768) >> 16`, the formula the Rust code spells out, alpha
  ignored; 16-bit grey images (Pillow modes I;16 and I) are brought to 8 bits as the `image`
  crate does, `(v + 128) // 257`;
- that grey image scaled so its longer side is at most `ANALYSIS_SIDE` (256), each side
  `round(side * 256 / longer)` (half away from zero, at least 1), with Pillow's BILINEAR;
- squareness = shorter side / longer side of the original;
- sharpness = population variance of the 4-neighbour Laplacian over the interior pixels of
  the scaled grey image (0 below 3x3);
- exposure = mean scaled grey / 255;
- border_whiteness = share of the scaled grey image's outer ring, max(1, shorter side // 20)
  pixels thick, with grey >= `WHITE` (240);
- dhash = `imagehash.dhash(scaled grey, 8)`, read from imagehash's hex string;
- quality = 0.35 squareness + 0.35 min(1, ln(1 + sharpness) / ln(1001))
  + 0.15 (1 - 2 |exposure - 0.5|) + 0.15 border_whiteness, clamped to [0, 1].

dHash bit order, read from `image_hasher` 3.1.1 and confirmed on pictures with single set bits:
both libraries compute the same 64 bits, row by row of a 9x8 thumbnail, each bit "the right
neighbour is brighter" (`last < this` in `image_hasher`, `pixels[:, 1:] > pixels[:, :-1]` in
imagehash), so no comparison is inverted. imagehash's int has bit k = 8 row + column at
position 63 - k (row 0, column 0 is the most significant bit). `image_hasher` packs the bits
least significant first into bytes (its default `BitOrder::LsbFirst`), and the Rust code reads
the 8 bytes big-endian: row r is byte r from the top, column c bit c of that byte, so bit k
lands at 8 (7 - row) + column. The two ints hold the same bytes with the bits of every byte
reversed; `reference_dhash_as_rust` does that.

Intended differences from the Rust results, bounded by the differential tests
(`tests/search/test_hero_images.py`, where the measured sizes are listed):
- the resize to 256: Pillow's BILINEAR (fixed-point weights, rounded to 8 bits between the
  horizontal and the vertical pass) against the `image` crate's Triangle filter (f32 weights,
  vertical pass first, f32 between the passes). Both widen the kernel by the scale factor, so
  pixels differ by about one grey level: sharpness moves by a per cent or so, the other
  signals by far less;
- the dHash thumbnail: imagehash resizes the scaled grey image to 9x8 with Pillow's LANCZOS,
  `image_hasher` with the `image` crate's Lanczos3; where two neighbours of the thumbnail are
  within a grey level of each other (flat areas) a bit can flip, a few bits of 64 at most;
- JPEG decoding: libjpeg-turbo (Pillow) against zune-jpeg (`image`), whose IDCT and chroma
  upsampling differ by a grey level or so per pixel; WebP lossy decoding (libwebp against
  `image-webp`) likewise. PNG and BMP decode to the same pixels;
- 16-bit colour PNGs: Pillow keeps the high byte of each sample, `image` rounds
  (`(v + 128) // 257`), at most one level apart; CMYK JPEGs go through each library's own
  CMYK-to-RGB conversion (they agree on Pillow's Adobe-inverted CMYK JPEGs);
- a refusal's detail after the reason word is worded by Pillow, not by the Rust crates, and a
  header that Pillow and `imagesize` read differently (a top-down BMP, whose height is
  negative) can be accepted by one and refused by the other.
"""

from __future__ import annotations

import math
import struct
import warnings
from io import BytesIO
from typing import Any

import imagehash  # no type stubs; mypy is configured with ignore_missing_imports
import numpy as np
from PIL import Image

from xiaodian.errors import InvalidArgument

__all__ = [
    "ANALYSIS_SIDE",
    "FORMAT_NUMBERS",
    "MAX_BYTES",
    "MAX_PIXELS",
    "SHARP",
    "WHITE",
    "analysis_grey",
    "analyze_hero_image",
    "border_whiteness",
    "decode",
    "grey",
    "laplacian_variance",
    "quality",
    "reference_dhash_as_rust",
]

#: Largest accepted input in bytes.
MAX_BYTES = 10_000_000
#: Largest accepted image in pixels.
MAX_PIXELS = 50_000_000
#: Longer side of the grey image the signals are computed on.
ANALYSIS_SIDE = 256
#: Grey level from which a border pixel counts as white.
WHITE = 240
#: Sharpness at which the quality's sharpness part saturates.
SHARP = 1000.0

#: `xiaodian.v1.ImageFormat` numbers by Pillow format name.
FORMAT_NUMBERS = {"JPEG": 1, "PNG": 2, "WEBP": 3, "BMP": 4}

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _refuse(reason: str, detail: object) -> InvalidArgument:
    description = f"{reason}: {detail}"
    return InvalidArgument(f"invalid argument: image_bytes: {description}", [("image_bytes", description)])


def _guess_format(data: bytes) -> str | None:
    """The accepted format named by the leading bytes (as `image::guess_format`), or None."""
    if data.startswith(_PNG_SIGNATURE):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "WEBP"
    if data.startswith(b"BM"):
        return "BMP"
    return None


def _png_has_actl(data: bytes) -> bool:
    """Whether an acTL chunk comes before the first IDAT (an APNG)."""
    offset = len(_PNG_SIGNATURE)
    while offset + 8 <= len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        if kind == b"acTL":
            return True
        if kind in (b"IDAT", b"IEND"):
            return False
        offset += 12 + length
    return False


def _webp_animation_flag(data: bytes) -> bool:
    """Whether the WebP's extended (VP8X) header sets the animation flag."""
    return data[12:16] == b"VP8X" and len(data) > 20 and bool(data[20] & 0x02)


def _jpeg_is_complete(data: bytes) -> bool:
    """Whether the JPEG's marker structure reaches an end-of-image (EOI) marker after at least
    one scan: segments are skipped by their lengths (so a thumbnail inside an APP1 or COM
    segment is not taken for the picture), each scan's entropy-coded data by its next marker."""
    offset, scanned = 2, False
    while offset + 2 <= len(data):
        if data[offset] != 0xFF:
            return False
        marker = data[offset + 1]
        if marker == 0xFF:  # fill byte
            offset += 1
            continue
        if marker == 0xD9:
            return scanned
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:
            offset += 2
            continue
        if offset + 4 > len(data):
            return False
        offset += 2 + int.from_bytes(data[offset + 2 : offset + 4], "big")
        if marker == 0xDA:
            scanned = True
            # Entropy-coded data runs to the next marker other than FF 00 (stuffing) and RSTn.
            while True:
                offset = data.find(b"\xff", offset)
                if offset < 0 or offset + 1 >= len(data):
                    return False
                following = data[offset + 1]
                if following == 0x00 or 0xD0 <= following <= 0xD7:
                    offset += 2
                    continue
                break
    return False


def _is_animated(data: bytes, fmt: str, image: Image.Image) -> bool:
    if fmt == "PNG":
        return _png_has_actl(data) or bool(getattr(image, "is_animated", False))
    if fmt == "WEBP":
        return _webp_animation_flag(data) or bool(getattr(image, "is_animated", False))
    return False


def decode(image_bytes: bytes) -> tuple[Image.Image, int]:
    """Checks the limits from the bytes and the header, then decodes: (image, format number)."""
    data = bytes(image_bytes)
    if len(data) > MAX_BYTES:
        raise _refuse("size", f"{len(data)} bytes, at most {MAX_BYTES}")
    fmt = _guess_format(data)
    if fmt is None:
        raise _refuse("format", "not a JPEG, PNG, WebP or BMP image")
    try:
        with warnings.catch_warnings():
            # Pillow warns above its own (larger) pixel limit; ours is checked just below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(BytesIO(data), formats=[fmt])
    except Image.DecompressionBombError as e:
        raise _refuse("dimensions", e) from None
    except Exception as e:  # any failure of Pillow's header parsers: the header is damaged
        raise _refuse("corrupt", f"{type(e).__name__}: {e}") from None
    width, height = image.size
    pixels = width * height
    if width == 0 or height == 0 or pixels > MAX_PIXELS:
        raise _refuse("dimensions", f"{width}x{height} ({pixels} pixels, at most {MAX_PIXELS})")
    if _is_animated(data, fmt, image):
        raise _refuse("animation", "animated images are not accepted")
    if fmt == "JPEG" and not _jpeg_is_complete(data):
        # Pillow decodes a baseline JPEG that lacks only its EOI marker; the Rust code refuses it.
        raise _refuse("corrupt", "truncated JPEG (no end-of-image marker after the scan)")
    try:
        image.load()
    except Exception as e:  # truncated or damaged pixel data, whatever Pillow calls it
        raise _refuse("corrupt", f"{type(e).__name__}: {e}") from None
    return image, FORMAT_NUMBERS[fmt]


def grey(image: Image.Image) -> Image.Image:
    """The full-size 8-bit grey image (ITU-R 601, alpha ignored)."""
    if image.mode == "I" or image.mode.startswith("I;16"):
        values = np.asarray(image).astype(np.float64)
        levels = np.floor((np.clip(values, 0, 65535) + 128) / 257).astype(np.uint8)
        return Image.fromarray(levels)
    return image.convert("RGB").convert("L")


def analysis_grey(full: Image.Image) -> Image.Image:
    """The grey image scaled so its longer side is at most `ANALYSIS_SIDE`."""
    w, h = full.size
    longer = max(w, h)
    if longer <= ANALYSIS_SIDE:
        return full
    scale = ANALYSIS_SIDE / longer
    nw = max(1, math.floor(w * scale + 0.5))
    nh = max(1, math.floor(h * scale + 0.5))
    return full.resize((nw, nh), Image.Resampling.BILINEAR)


def laplacian_variance(pixels: np.ndarray) -> float:
    """Population variance of the 4-neighbour Laplacian over interior pixels (0 below 3x3)."""
    h, w = pixels.shape
    if w < 3 or h < 3:
        return 0.0
    p = pixels.astype(np.float64)
    lap = p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:] - 4.0 * p[1:-1, 1:-1]
    return float(np.mean((lap - lap.mean()) ** 2))


def border_whiteness(pixels: np.ndarray) -> float:
    """Share of the outer ring's pixels (max(1, shorter side // 20) thick) with grey >= WHITE."""
    h, w = pixels.shape
    t = max(1, min(w, h) // 20)
    ring = np.ones((h, w), dtype=bool)
    ring[t : h - t, t : w - t] = False
    total = int(ring.sum())
    if total == 0:
        return 0.0
    return int((pixels[ring] >= WHITE).sum()) / total


def quality(squareness: float, sharpness: float, exposure: float, border_whiteness: float) -> float:
    """The one quality score in [0, 1]."""
    sharp = min(1.0, math.log(1.0 + sharpness) / math.log(1.0 + SHARP))
    exposed = 1.0 - 2.0 * abs(exposure - 0.5)
    return min(1.0, max(0.0, 0.35 * squareness + 0.35 * sharp + 0.15 * exposed + 0.15 * border_whiteness))


def reference_dhash_as_rust(h: Any) -> int:
    """imagehash's 64-bit dHash (an `ImageHash` or the int `analyze_hero_image` reports) in the
    Rust order (`image_hasher`'s LSB-first bytes read big-endian): every byte bit-reversed."""
    value = h if isinstance(h, int) else int(str(h), 16)
    out = 0
    for byte_index in range(8):
        byte = (value >> (8 * byte_index)) & 0xFF
        out |= int(f"{byte:08b}"[::-1], 2) << (8 * byte_index)
    return out


def analyze_hero_image(image_bytes: bytes) -> dict[str, Any]:
    """Decodes (limits first) and analyses a hero image; the dict of `xiaodian._core`'s
    `analyze_hero_image`, except that `dhash` is in imagehash's bit order."""
    image, fmt = decode(image_bytes)
    width, height = image.size
    squareness = min(width, height) / max(width, height)
    scaled = analysis_grey(grey(image))
    pixels = np.asarray(scaled)
    sharpness = laplacian_variance(pixels)
    exposure = float(pixels.astype(np.float64).sum()) / pixels.size / 255.0
    whiteness = border_whiteness(pixels)
    return {
        "width": width,
        "height": height,
        "format": fmt,
        "squareness": squareness,
        "sharpness": sharpness,
        "exposure": exposure,
        "border_whiteness": whiteness,
        "dhash": int(str(imagehash.dhash(scaled, 8)), 16),
        "quality": quality(squareness, sharpness, exposure, whiteness),
    }
