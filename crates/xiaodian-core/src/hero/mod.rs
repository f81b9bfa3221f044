//! Hero image (商品头图) analysis: safe decoding and the signals search ranks by.
//!
//! Limits are enforced before any pixel is allocated: at most [`MAX_BYTES`] of input, a format
//! among JPEG, PNG, WebP and BMP (detected from the bytes), dimensions read from the header
//! with at most [`MAX_PIXELS`] pixels (so a decompression bomb, a small file declaring huge
//! dimensions, is refused from its header), and no animation (APNG, animated WebP). Decoding
//! itself runs under `image::Limits` as a second guard.
//!
//! Memory: before any pixel buffer exists, [`analysis_bytes`] works out from the header what
//! the analysis will hold at its peak, and an image above the caller's budget is refused with
//! the reason `memory`. That figure is the larger of two moments:
//! - decoding: the decoded pixels (`ImageDecoder::total_bytes`: width × height × channels ×
//!   bytes per channel, 16-bit samples included) plus what the decoder holds beside them and
//!   that grows with the image: a copy of the input (the JPEG decoder keeps one), the 16-bit
//!   DCT coefficients of every component of a progressive or multi-scan JPEG, the YUV planes
//!   (and a decoded alpha plane) of a lossy WebP, the RGBA frame a lossless WebP without alpha
//!   is decoded into first;
//! - resizing: the decoded buffer (turned into grey in place, below) plus the `image` crate's
//!   vertical pass, `width × scaled height` RGBA f32 pixels (16 bytes each).
//!
//! The grey image is computed in place, over the decoded buffer (pixel i's grey byte is
//! written at index i, after that pixel's own bytes were read), so no RGB or grey copy of the
//! full image is ever made. What the figure leaves out is fixed or small beside it: row
//! buffers, zlib and Huffman state, the scaled 256-pixel image.
//!
//! Signals, computed on the grey image (ITU-R 601 luma as Pillow's "L":
//! `(19595 R + 38470 G + 7471 B + 32768) / 65536`) scaled so its longer side is at most
//! [`ANALYSIS_SIDE`] pixels (triangle filter):
//! - `squareness` = shorter side / longer side of the original (the platform shows 1:1);
//! - `sharpness` = population variance of the 4-neighbour Laplacian over interior pixels;
//! - `exposure` = mean grey / 255;
//! - `border_whiteness` = share of pixels with grey ≥ [`WHITE`] in the outer ring, whose
//!   thickness is max(1, shorter side / 20);
//! - `dhash` = 64-bit gradient hash (dHash) of `image_hasher` (9×8 grey, row-major) of that
//!   grey image;
//! - `quality` = 0.35·squareness + 0.35·min(1, ln(1 + sharpness) / ln(1 + 1000))
//!   + 0.15·(1 − 2·|exposure − 0.5|) + 0.15·border_whiteness, in [0, 1].

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Cursor;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

use image::codecs::png::PngDecoder;
use image::codecs::webp::WebPDecoder;
use image::imageops::FilterType;
use image::{
    ColorType, DynamicImage, GrayImage, ImageBuffer, ImageDecoder, ImageFormat, ImageReader,
    Limits, Luma,
};
use image_hasher::{HashAlg, HasherConfig};

use crate::error::{CoreError, CoreResult, FieldViolation};

/// Largest accepted input: 10 MB (10,000,000 bytes).
pub const MAX_BYTES: usize = 10_000_000;
/// Largest accepted image: 50 megapixels.
pub const MAX_PIXELS: u64 = 50_000_000;
/// Longer side of the grey image the signals are computed on.
pub const ANALYSIS_SIDE: u32 = 256;
/// Grey level from which a border pixel counts as white.
pub const WHITE: u8 = 240;
/// Sharpness at which the quality's sharpness part saturates.
pub const SHARP: f64 = 1000.0;

/// Formats accepted for hero images (numbers as `xiaodian.v1.ImageFormat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeroFormat {
    Jpeg = 1,
    Png = 2,
    WebP = 3,
    Bmp = 4,
}

/// Why an image is refused; the first word of the field violation's description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Format,
    Size,
    Dimensions,
    Animation,
    Corrupt,
    Memory,
}

impl Refusal {
    pub fn name(self) -> &'static str {
        match self {
            Refusal::Format => "format",
            Refusal::Size => "size",
            Refusal::Dimensions => "dimensions",
            Refusal::Animation => "animation",
            Refusal::Corrupt => "corrupt",
            Refusal::Memory => "memory",
        }
    }
}

fn refuse(reason: Refusal, detail: impl std::fmt::Display) -> CoreError {
    CoreError::InvalidArgument(vec![FieldViolation::new(
        "image_bytes",
        format!("{}: {detail}", reason.name()),
    )])
}

/// What the analysis reports (as `xiaodian.v1.HeroImageReport`).
#[derive(Debug, Clone, PartialEq)]
pub struct HeroReport {
    pub width: u32,
    pub height: u32,
    pub format: HeroFormat,
    pub squareness: f64,
    pub sharpness: f64,
    pub exposure: f64,
    pub border_whiteness: f64,
    pub dhash: u64,
    pub quality: f64,
}

/// The decoded pixels, in memory taken from the system allocator rather than the process's
/// global one (mimalloc in the extension): at this size glibc maps the pages on allocation and
/// unmaps them on drop, so they leave the process the moment the analysis is done, whichever
/// thread runs the next one. (mimalloc keeps a freed block committed for a while for reuse;
/// two threads taking turns with 150 MB buffers then held three of them resident.)
struct PixelBuffer {
    ptr: NonNull<u8>,
    len: usize,
}

impl PixelBuffer {
    /// `len` zeroed bytes (`len` > 0), or None when the system has not got them.
    fn zeroed(len: usize) -> Option<Self> {
        let layout = Layout::array::<u8>(len).ok().filter(|l| l.size() > 0)?;
        // SAFETY: the layout has a non-zero size.
        let ptr = NonNull::new(unsafe { System.alloc_zeroed(layout) })?;
        Some(Self { ptr, len })
    }
}

impl Deref for PixelBuffer {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: `ptr` points at `len` initialised (zeroed, then written) bytes owned by self.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl DerefMut for PixelBuffer {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `deref`, and `&mut self` makes the access unique.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for PixelBuffer {
    fn drop(&mut self) {
        let layout = Layout::array::<u8>(self.len).expect("allocated with this layout");
        // SAFETY: allocated by `System` with this very layout, freed once.
        unsafe { System.dealloc(self.ptr.as_ptr(), layout) }
    }
}

// SAFETY: the buffer owns its bytes outright, as a `Vec<u8>` does.
unsafe impl Send for PixelBuffer {}
unsafe impl Sync for PixelBuffer {}

impl std::fmt::Debug for PixelBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PixelBuffer({} bytes)", self.len)
    }
}

/// A decoded image turned grey: its first `width × height` bytes are the grey pixels (the rest
/// of the buffer is what the decoded pixels took beyond one byte each, left in place rather
/// than copied into a smaller buffer).
#[derive(Debug)]
pub struct DecodedGrey {
    pub width: u32,
    pub height: u32,
    pub format: HeroFormat,
    buffer: PixelBuffer,
}

impl DecodedGrey {
    /// The full-size grey image (ITU-R 601 luma, alpha ignored).
    pub fn grey(&self) -> ImageBuffer<Luma<u8>, &[u8]> {
        let len = self.width as usize * self.height as usize;
        ImageBuffer::from_raw(self.width, self.height, &self.buffer[..len])
            .expect("one grey byte per pixel")
    }
}

/// Checks the limits from the bytes and the header (the memory the analysis would take
/// against `max_decoded_bytes` among them), then decodes and turns the pixels grey in place.
pub fn decode(bytes: &[u8], max_decoded_bytes: u64) -> CoreResult<DecodedGrey> {
    if bytes.len() > MAX_BYTES {
        return Err(refuse(
            Refusal::Size,
            format!("{} bytes, at most {MAX_BYTES}", bytes.len()),
        ));
    }
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| refuse(Refusal::Corrupt, e))?;
    let format = match reader.format() {
        Some(ImageFormat::Jpeg) => HeroFormat::Jpeg,
        Some(ImageFormat::Png) => HeroFormat::Png,
        Some(ImageFormat::WebP) => HeroFormat::WebP,
        Some(ImageFormat::Bmp) => HeroFormat::Bmp,
        Some(other) => {
            return Err(refuse(
                Refusal::Format,
                format!("{other:?} is not accepted (JPEG, PNG, WebP, BMP)"),
            ))
        }
        None => {
            return Err(refuse(
                Refusal::Format,
                "not a JPEG, PNG, WebP or BMP image",
            ))
        }
    };
    // Dimensions from the header alone, so a bomb is refused before any decoder sizes its
    // buffers from the header's claim.
    let (width, height) = header_dimensions(bytes, format)?;
    let pixels = width * height;
    if width == 0 || height == 0 || pixels > MAX_PIXELS {
        return Err(refuse(
            Refusal::Dimensions,
            format!("{width}x{height} ({pixels} pixels, at most {MAX_PIXELS})"),
        ));
    }
    let (width, height) = (width as u32, height as u32);
    let animated = match format {
        HeroFormat::Png => PngDecoder::new(Cursor::new(bytes))
            .and_then(|d| d.is_apng())
            .map_err(|e| refuse(Refusal::Corrupt, e))?,
        HeroFormat::WebP => WebPDecoder::new(Cursor::new(bytes))
            .map_err(|e| refuse(Refusal::Corrupt, e))?
            .has_animation(),
        HeroFormat::Jpeg | HeroFormat::Bmp => false,
    };
    if animated {
        return Err(refuse(
            Refusal::Animation,
            "animated images are not accepted",
        ));
    }
    if format == HeroFormat::Jpeg && !jpeg_is_complete(bytes) {
        // The JPEG decoder fills a truncated scan with grey rather than failing.
        return Err(refuse(
            Refusal::Corrupt,
            "truncated JPEG (no end-of-image marker after the scan)",
        ));
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(width);
    limits.max_image_height = Some(height);
    // Room for the decoded pixels at up to 16 bytes each (RGBA f32) and nothing more.
    limits.max_alloc = Some(pixels * 16 + (1 << 20));
    let mut reader = ImageReader::with_format(Cursor::new(bytes), reader.format().unwrap());
    reader.limits(limits);
    // Creating the decoder reads the header only; no pixel buffer exists yet.
    let decoder = reader
        .into_decoder()
        .map_err(|e| refuse(Refusal::Corrupt, e))?;
    if decoder.dimensions() != (width, height) {
        return Err(refuse(
            Refusal::Corrupt,
            format!(
                "the decoder reads {}x{}, the header {width}x{height}",
                decoder.dimensions().0,
                decoder.dimensions().1
            ),
        ));
    }
    let color = decoder.color_type();
    if !matches!(
        color,
        ColorType::L8
            | ColorType::La8
            | ColorType::Rgb8
            | ColorType::Rgba8
            | ColorType::L16
            | ColorType::La16
            | ColorType::Rgb16
            | ColorType::Rgba16
    ) {
        return Err(refuse(
            Refusal::Format,
            format!("{color:?} samples are not accepted (8 or 16 bits)"),
        ));
    }
    let decoded_bytes = decoder.total_bytes();
    let needed = analysis_bytes(bytes, format, width, height, decoded_bytes);
    if needed > max_decoded_bytes {
        return Err(refuse(
            Refusal::Memory,
            format!(
                "{width}x{height} {color:?} decodes to {decoded_bytes} bytes and the analysis \
                 would take {needed} ({}), over the budget of {max_decoded_bytes} bytes ({})",
                mib(needed),
                mib(max_decoded_bytes)
            ),
        ));
    }
    let mut buffer = PixelBuffer::zeroed(decoded_bytes as usize).ok_or_else(|| {
        refuse(
            Refusal::Memory,
            format!("the system could not provide {decoded_bytes} bytes for the pixels"),
        )
    })?;
    decoder
        .read_image(&mut buffer)
        .map_err(|e| refuse(Refusal::Corrupt, e))?;
    grey_in_place(&mut buffer, color);
    Ok(DecodedGrey {
        width,
        height,
        format,
        buffer,
    })
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// The most memory the analysis of this image holds at once, from the header (what it
/// counts: the module documentation).
pub fn analysis_bytes(
    bytes: &[u8],
    format: HeroFormat,
    width: u32,
    height: u32,
    decoded_bytes: u64,
) -> u64 {
    let (w, h) = (u64::from(width), u64::from(height));
    let pixels = w * h;
    let beside_pixels = match format {
        HeroFormat::Png | HeroFormat::Bmp => 0,
        HeroFormat::Jpeg => bytes.len() as u64 + jpeg_coefficient_bytes(bytes, w, h),
        HeroFormat::WebP => webp_working_bytes(bytes, w, h, decoded_bytes),
    };
    let decoding = decoded_bytes + beside_pixels;
    let (_, scaled_height) = analysis_size(width, height);
    let resizing = if width.max(height) > ANALYSIS_SIDE {
        decoded_bytes + w * u64::from(scaled_height) * 16
    } else {
        decoded_bytes + pixels
    };
    decoding.max(resizing)
}

/// The DCT coefficients (2 bytes each, every component) that the JPEG decoder keeps for the
/// whole image when the picture is not complete after its first scan: progressive JPEGs, and
/// sequential ones whose first scan lacks a component. 0 for a single interleaved scan.
fn jpeg_coefficient_bytes(b: &[u8], w: u64, h: u64) -> u64 {
    let mut components: Vec<(u64, u64)> = Vec::new();
    let mut progressive = false;
    let mut i = 2;
    while i + 3 < b.len() {
        if b[i] != 0xFF {
            break;
        }
        let marker = b[i + 1];
        if marker == 0xFF {
            i += 1;
            continue;
        }
        if marker == 0x01 || (0xD0..=0xD7).contains(&marker) {
            i += 2;
            continue;
        }
        let len = usize::from(u16::from_be_bytes([b[i + 2], b[i + 3]]));
        let segment = b.get(i + 4..(i + 2 + len).min(b.len())).unwrap_or(&[]);
        match marker {
            // Start of frame (not DHT C4, JPG C8, DAC CC).
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                progressive = matches!(marker, 0xC2 | 0xC6 | 0xCA | 0xCE);
                let n = usize::from(*segment.get(5).unwrap_or(&0));
                components = (0..n)
                    .filter_map(|c| segment.get(6 + 3 * c + 1))
                    .map(|&s| (u64::from(s >> 4).max(1), u64::from(s & 0x0F).max(1)))
                    .collect();
            }
            0xDA => {
                let in_first_scan = usize::from(*segment.first().unwrap_or(&0));
                if components.is_empty() || (!progressive && in_first_scan >= components.len()) {
                    return 0;
                }
                let h_max = components.iter().map(|c| c.0).max().unwrap_or(1);
                let v_max = components.iter().map(|c| c.1).max().unwrap_or(1);
                let (mcu_x, mcu_y) = (w.div_ceil(8 * h_max), h.div_ceil(8 * v_max));
                return components
                    .iter()
                    .map(|&(hs, vs)| mcu_x * mcu_y * 64 * hs * vs * 2)
                    .sum();
            }
            _ => {}
        }
        i += 2 + len;
    }
    0
}

/// What the WebP decoder holds beside the decoded pixels: a lossy picture's YUV planes
/// (1.5 bytes per pixel of the macroblock-padded size) and, with an alpha channel, the alpha
/// plane (decoded as RGBA and kept as one byte: 5 per pixel at most); a lossless picture
/// without alpha is decoded into an RGBA frame first (4 per pixel). With no recognisable
/// chunk, the most of these.
fn webp_working_bytes(b: &[u8], w: u64, h: u64, decoded_bytes: u64) -> u64 {
    let (mut lossy, mut lossless, mut alpha) = (false, false, false);
    let mut i = 12;
    while i + 8 <= b.len() {
        let size = u64::from(u32::from_le_bytes([b[i + 4], b[i + 5], b[i + 6], b[i + 7]]));
        match &b[i..i + 4] {
            b"VP8 " => lossy = true,
            b"VP8L" => lossless = true,
            b"ALPH" => alpha = true,
            _ => {}
        }
        let Some(next) = (i as u64).checked_add(8 + size + (size & 1)) else {
            break;
        };
        i = usize::try_from(next).unwrap_or(usize::MAX);
    }
    let yuv = w.div_ceil(16) * 16 * h.div_ceil(16) * 16 * 3 / 2;
    let rgba_frame = w * h * 4;
    if lossy && !lossless {
        yuv + if alpha { w * h * 5 } else { 0 }
    } else if lossless && !lossy {
        if decoded_bytes == w * h * 4 {
            0
        } else {
            rgba_frame
        }
    } else {
        (yuv + w * h * 5).max(rgba_frame)
    }
}

/// Turns decoded pixels (`color`, 16-bit samples in native byte order as `read_image` writes
/// them) into grey in place: pixel i's grey byte goes to index i, which only overwrites bytes
/// of pixels already read. The same values as converting to 8-bit RGB with the `image` crate
/// (16-bit samples rounded, `(v + 128) / 257`) and then taking the luma.
fn grey_in_place(buffer: &mut [u8], color: ColorType) {
    let luma = |r: u8, g: u8, b: u8| {
        let [r, g, b] = [u32::from(r), u32::from(g), u32::from(b)];
        ((19595 * r + 38470 * g + 7471 * b + 0x8000) >> 16) as u8
    };
    let narrow = |b: &[u8]| ((u32::from(u16::from_ne_bytes([b[0], b[1]])) + 128) / 257) as u8;
    let step = usize::from(color.bytes_per_pixel());
    let grey_of = |p: &[u8]| -> u8 {
        match color {
            ColorType::L8 | ColorType::La8 => p[0],
            ColorType::Rgb8 | ColorType::Rgba8 => luma(p[0], p[1], p[2]),
            ColorType::L16 | ColorType::La16 => narrow(&p[0..2]),
            _ => luma(narrow(&p[0..2]), narrow(&p[2..4]), narrow(&p[4..6])),
        }
    };
    if color == ColorType::L8 {
        return;
    }
    let count = buffer.len() / step;
    for i in 0..count {
        let value = grey_of(&buffer[i * step..(i + 1) * step]);
        buffer[i] = value;
    }
}

/// True when a JPEG's segments, walked by their lengths from the start, reach an end-of-image
/// marker (FF D9) after at least one scan. Embedded thumbnails or stray marker bytes inside
/// segments cannot fool it, since segment payloads are skipped whole.
fn jpeg_is_complete(b: &[u8]) -> bool {
    if b.len() < 4 || b[0] != 0xFF || b[1] != 0xD8 {
        return false;
    }
    let mut i = 2;
    let mut seen_scan = false;
    while i + 1 < b.len() {
        if b[i] != 0xFF {
            return false;
        }
        let marker = b[i + 1];
        match marker {
            0xFF => i += 1, // fill byte
            0xD9 => return seen_scan,
            0x01 | 0xD0..=0xD7 => i += 2, // markers without a payload
            _ => {
                let Some(len) = b.get(i + 2..i + 4) else {
                    return false;
                };
                let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
                if len < 2 {
                    return false;
                }
                i += 2 + len;
                if marker == 0xDA {
                    seen_scan = true;
                    // Entropy-coded data runs to the next marker other than a stuffed zero
                    // (FF 00) or a restart marker (FF D0-D7).
                    while i + 1 < b.len()
                        && !(b[i] == 0xFF && b[i + 1] != 0x00 && !(0xD0..=0xD7).contains(&b[i + 1]))
                    {
                        i += 1;
                    }
                }
            }
        }
    }
    false
}

/// Width and height from the header alone. BMP is read here (its height is negative for
/// top-down bitmaps, which `imagesize` reads as a huge unsigned number); other formats by
/// `imagesize`, which reads a few bytes and allocates nothing.
fn header_dimensions(bytes: &[u8], format: HeroFormat) -> CoreResult<(u64, u64)> {
    if format == HeroFormat::Bmp {
        let le_u32 = |at: usize| {
            bytes
                .get(at..at + 4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        };
        let le_u16 = |at: usize| {
            bytes
                .get(at..at + 2)
                .map(|b| u16::from_le_bytes([b[0], b[1]]))
        };
        let dims = match le_u32(14) {
            // BITMAPCOREHEADER: 16-bit unsigned sides.
            Some(12) => le_u16(18)
                .zip(le_u16(20))
                .map(|(w, h)| (u64::from(w), u64::from(h))),
            Some(_) => le_u32(18).zip(le_u32(22)).map(|(w, h)| {
                (
                    u64::from((w as i32).unsigned_abs()),
                    u64::from((h as i32).unsigned_abs()),
                )
            }),
            None => None,
        };
        return dims.ok_or_else(|| refuse(Refusal::Corrupt, "BMP header too short"));
    }
    let size = imagesize::blob_size(bytes).map_err(|e| refuse(Refusal::Corrupt, e))?;
    Ok((size.width as u64, size.height as u64))
}

/// The size of the grey image the signals are computed on: the longer side scaled to
/// [`ANALYSIS_SIDE`] (rounded, at least 1), or the image's own size if not longer.
fn analysis_size(width: u32, height: u32) -> (u32, u32) {
    let longer = width.max(height);
    if longer <= ANALYSIS_SIDE {
        return (width, height);
    }
    let scale = f64::from(ANALYSIS_SIDE) / f64::from(longer);
    let nw = ((f64::from(width) * scale).round() as u32).max(1);
    let nh = ((f64::from(height) * scale).round() as u32).max(1);
    (nw, nh)
}

/// The grey image scaled so its longer side is at most [`ANALYSIS_SIDE`].
fn analysis_grey(full: &ImageBuffer<Luma<u8>, &[u8]>) -> GrayImage {
    let (w, h) = full.dimensions();
    let (nw, nh) = analysis_size(w, h);
    if (nw, nh) == (w, h) {
        return GrayImage::from_raw(w, h, full.as_raw().to_vec()).expect("one byte per pixel");
    }
    image::imageops::resize(full, nw, nh, FilterType::Triangle)
}

/// Population variance of the 4-neighbour Laplacian over interior pixels (0 below 3×3),
/// in two passes (mean, then squared deviations) for accuracy.
pub fn laplacian_variance(grey: &GrayImage) -> f64 {
    let (w, h) = (grey.width() as usize, grey.height() as usize);
    if w < 3 || h < 3 {
        return 0.0;
    }
    let p = grey.as_raw();
    let laplacian = |x: usize, y: usize| {
        let at = |x: usize, y: usize| f64::from(p[y * w + x]);
        at(x, y - 1) + at(x, y + 1) + at(x - 1, y) + at(x + 1, y) - 4.0 * at(x, y)
    };
    let interior = || (1..h - 1).flat_map(move |y| (1..w - 1).map(move |x| (x, y)));
    let n = ((w - 2) * (h - 2)) as f64;
    let mean = interior().map(|(x, y)| laplacian(x, y)).sum::<f64>() / n;
    interior()
        .map(|(x, y)| {
            let d = laplacian(x, y) - mean;
            d * d
        })
        .sum::<f64>()
        / n
}

/// Share of the outer ring's pixels that are white.
pub fn border_whiteness(grey: &GrayImage) -> f64 {
    let (w, h) = grey.dimensions();
    let t = (w.min(h) / 20).max(1);
    let (mut white, mut total) = (0u64, 0u64);
    for (x, y, pixel) in grey.enumerate_pixels() {
        if x < t || y < t || x >= w.saturating_sub(t) || y >= h.saturating_sub(t) {
            total += 1;
            white += u64::from(pixel.0[0] >= WHITE);
        }
    }
    if total == 0 {
        0.0
    } else {
        white as f64 / total as f64
    }
}

/// The one quality score in [0, 1] (formula in the module documentation and the README).
pub fn quality(squareness: f64, sharpness: f64, exposure: f64, border_whiteness: f64) -> f64 {
    let sharp = ((1.0 + sharpness).ln() / (1.0 + SHARP).ln()).min(1.0);
    let exposed = 1.0 - 2.0 * (exposure - 0.5).abs();
    (0.35 * squareness + 0.35 * sharp + 0.15 * exposed + 0.15 * border_whiteness).clamp(0.0, 1.0)
}

/// The 64-bit dHash of a grey image, bits in `image_hasher`'s order read as a big-endian
/// integer. Hashing the analysis-size grey image (not the full picture) keeps the 9×8 resize
/// cheap; near-duplicates are judged on it either way.
pub fn dhash(image: &DynamicImage) -> u64 {
    let hasher = HasherConfig::new()
        .hash_alg(HashAlg::Gradient)
        .hash_size(8, 8)
        .to_hasher();
    let hash = hasher.hash_image(image);
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&hash.as_bytes()[..8]);
    u64::from_be_bytes(bytes)
}

/// Decodes (with every limit, `max_decoded_bytes` the memory budget of [`analysis_bytes`])
/// and analyses a hero image.
pub fn analyze(bytes: &[u8], max_decoded_bytes: u64) -> CoreResult<HeroReport> {
    let decoded = decode(bytes, max_decoded_bytes)?;
    let (width, height, format) = (decoded.width, decoded.height, decoded.format);
    let squareness = f64::from(width.min(height)) / f64::from(width.max(height));
    let grey = analysis_grey(&decoded.grey());
    drop(decoded);
    let sharpness = laplacian_variance(&grey);
    let pixels = grey.as_raw();
    let exposure = pixels.iter().map(|&p| f64::from(p)).sum::<f64>() / pixels.len() as f64 / 255.0;
    let border_whiteness = border_whiteness(&grey);
    Ok(HeroReport {
        width,
        height,
        format,
        squareness,
        sharpness,
        exposure,
        border_whiteness,
        dhash: dhash(&DynamicImage::ImageLuma8(grey)),
        quality: quality(squareness, sharpness, exposure, border_whiteness),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageBuffer, Rgb, RgbImage};

    /// The configured default budget (`SearchConfig.image_max_decoded_bytes`).
    const BUDGET: u64 = 160 << 20;

    fn analyze_default(bytes: &[u8]) -> CoreResult<HeroReport> {
        analyze(bytes, BUDGET)
    }

    fn encode(image: &RgbImage, format: ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    fn checkerboard(w: u32, h: u32, cell: u32) -> RgbImage {
        ImageBuffer::from_fn(w, h, |x, y| {
            if (x / cell + y / cell).is_multiple_of(2) {
                Rgb([250, 250, 250])
            } else {
                Rgb([20, 40, 60])
            }
        })
    }

    #[test]
    fn reports_geometry_and_signals() {
        let report =
            analyze_default(&encode(&checkerboard(400, 400, 20), ImageFormat::Png)).unwrap();
        assert_eq!(
            (report.width, report.height, report.format),
            (400, 400, HeroFormat::Png)
        );
        assert_eq!(report.squareness, 1.0);
        assert!(report.sharpness > 100.0);
        assert!((0.0..=1.0).contains(&report.quality));
        let wide = analyze_default(&encode(&checkerboard(600, 200, 20), ImageFormat::Png)).unwrap();
        assert!((wide.squareness - 1.0 / 3.0).abs() < 1e-12);
        assert!(wide.quality < report.quality);
    }

    #[test]
    fn a_flat_image_has_no_sharpness() {
        let flat: RgbImage = ImageBuffer::from_pixel(100, 100, Rgb([255, 255, 255]));
        let report = analyze_default(&encode(&flat, ImageFormat::Bmp)).unwrap();
        assert_eq!(report.sharpness, 0.0);
        assert_eq!(report.border_whiteness, 1.0);
        assert_eq!(report.exposure, 1.0);
    }

    fn reason(bytes: &[u8]) -> String {
        reason_within(bytes, BUDGET)
    }

    fn reason_within(bytes: &[u8], budget: u64) -> String {
        match analyze(bytes, budget) {
            Err(CoreError::InvalidArgument(v)) => {
                v[0].description.split(':').next().unwrap().to_owned()
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn refuses_bad_input_with_a_reason() {
        assert_eq!(reason(b"definitely not an image"), "format");
        assert_eq!(reason(&vec![0u8; MAX_BYTES + 1]), "size");
        let jpeg = encode(&checkerboard(64, 64, 8), ImageFormat::Jpeg);
        assert!(analyze_default(&jpeg).is_ok());
        assert_eq!(reason(&jpeg[..jpeg.len() - 40]), "corrupt");
        let png = encode(&checkerboard(64, 64, 8), ImageFormat::Png);
        // A PNG declaring 100,000 x 100,000 pixels (CRC left stale: the header size is read
        // before any decoder checks it).
        let mut png_bomb = png.clone();
        png_bomb[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        png_bomb[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        assert_eq!(reason(&png_bomb), "dimensions");
        assert_eq!(reason(&png[..png.len() / 2]), "corrupt");
        // A small BMP whose header declares 100,000 x 100,000 pixels: refused from the header.
        let mut top_down = encode(&checkerboard(8, 8, 2), ImageFormat::Bmp);
        top_down[22..26].copy_from_slice(&(-8i32).to_le_bytes());
        assert_eq!(analyze_default(&top_down).unwrap().height, 8);
        let mut bomb = encode(&checkerboard(8, 8, 2), ImageFormat::Bmp);
        bomb[18..22].copy_from_slice(&100_000i32.to_le_bytes());
        bomb[22..26].copy_from_slice(&100_000i32.to_le_bytes());
        assert_eq!(reason(&bomb), "dimensions");
        let gif = {
            let mut out = Cursor::new(Vec::new());
            DynamicImage::ImageRgb8(checkerboard(8, 8, 2))
                .write_to(&mut out, ImageFormat::Gif)
                .unwrap_or(());
            out.into_inner()
        };
        if !gif.is_empty() {
            assert_eq!(reason(&gif), "format");
        }
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &byte in data {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    /// A valid PNG signature and IHDR (correct CRC) declaring `width × height` pixels of 16-bit
    /// RGBA, followed by one tiny IDAT and IEND: no pixel data to speak of.
    fn png_header_only(width: u32, height: u32) -> Vec<u8> {
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut chunk = |kind: &[u8], data: &[u8]| {
            out.extend_from_slice(&(data.len() as u32).to_be_bytes());
            let mut body = kind.to_vec();
            body.extend_from_slice(data);
            out.extend_from_slice(&body);
            out.extend_from_slice(&crc32(&body).to_be_bytes());
        };
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&width.to_be_bytes());
        ihdr.extend_from_slice(&height.to_be_bytes());
        ihdr.extend_from_slice(&[16, 6, 0, 0, 0]);
        chunk(b"IHDR", &ihdr);
        chunk(b"IDAT", &[0x78, 0x01, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
        chunk(b"IEND", &[]);
        out
    }

    #[test]
    fn refuses_over_the_memory_budget_from_the_header() {
        // The bug report's picture: 7000 x 7000 16-bit RGBA, inside the 50 megapixels, 392 MB
        // decoded. No pixel data follows the header: refused for memory, not as corrupt.
        let bomb = png_header_only(7000, 7000);
        assert_eq!(reason(&bomb), "memory");
        let Err(CoreError::InvalidArgument(v)) = analyze_default(&bomb) else {
            panic!("refused")
        };
        assert!(
            v[0].description.contains(
                "decodes to 392000000 bytes and the analysis would take 420672000 (401.2 MiB), \
                 over the budget of 167772160 bytes (160.0 MiB)"
            ),
            "{}",
            v[0].description
        );
        // Within the budget it gets to decoding, and the missing data is what is wrong.
        assert_eq!(reason_within(&bomb, 1 << 30), "corrupt");
        // The budget counts the decoded bytes at their real sample size.
        let png = encode(&checkerboard(300, 200, 10), ImageFormat::Png);
        let needed = 300 * 200 * 3 + 300 * 171 * 16;
        assert!(analyze(&png, needed).is_ok());
        assert_eq!(reason_within(&png, needed - 1), "memory");
    }

    #[test]
    fn the_budget_counts_the_resize_and_the_decoders_own_buffers() {
        let (w, h) = (1000u64, 600u64);
        // Resizing 1000 x 600 to 256 x 154: the vertical pass is 1000 x 154 RGBA f32 (the
        // refusal of 7000 x 7000 above: 392,000,000 decoded + 7000 x 256 x 16 resizing).
        let png = encode(&checkerboard(1000, 600, 10), ImageFormat::Png);
        let resize = w * 154 * 16;
        assert_eq!(
            analysis_bytes(&png, HeroFormat::Png, 1000, 600, w * h * 3),
            w * h * 3 + resize
        );
        // A lossless WebP without alpha is decoded into RGBA first.
        let webp = encode(&checkerboard(1000, 600, 10), ImageFormat::WebP);
        assert_eq!(
            analysis_bytes(&webp, HeroFormat::WebP, 1000, 600, w * h * 3),
            (w * h * 3 + w * h * 4).max(w * h * 3 + resize)
        );
        // A baseline JPEG with one interleaved scan keeps no coefficients, only its input.
        let jpeg = encode(&checkerboard(1000, 600, 10), ImageFormat::Jpeg);
        assert_eq!(jpeg_coefficient_bytes(&jpeg, w, h), 0);
        // Made progressive (SOF0 -> SOF2), it keeps every component's coefficients: the
        // encoder writes 4:4:4, so 125 x 75 MCUs of 8 x 8 pixels for each of 3 components.
        let sof = jpeg.windows(2).position(|m| m == [0xFF, 0xC0]).unwrap();
        let mut progressive = jpeg.clone();
        progressive[sof + 1] = 0xC2;
        assert_eq!(
            jpeg_coefficient_bytes(&progressive, w, h),
            3 * 125 * 75 * 64 * 2
        );
        // Subsampled 4:2:0 (luma 2x2, chroma 1x1): 63 x 38 MCUs of 16 x 16 pixels.
        let components = sof + 4 + 6;
        progressive[components + 1] = 0x22;
        progressive[components + 4] = 0x11;
        progressive[components + 7] = 0x11;
        assert_eq!(
            jpeg_coefficient_bytes(&progressive, w, h),
            63 * 38 * 64 * (4 + 1 + 1) * 2
        );
    }

    /// The previous conversion: the `image` crate's 8-bit RGB, then the luma.
    fn grey_via_rgb8(image: &DynamicImage) -> Vec<u8> {
        image
            .to_rgb8()
            .as_raw()
            .chunks_exact(3)
            .map(|p| {
                let [r, g, b] = [u32::from(p[0]), u32::from(p[1]), u32::from(p[2])];
                ((19595 * r + 38470 * g + 7471 * b + 0x8000) >> 16) as u8
            })
            .collect()
    }

    #[test]
    fn grey_in_place_matches_converting_to_rgb_first() {
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let (w, h) = (37u32, 23u32);
        let n = (w * h) as usize;
        // Random samples, with the extremes of 16 bits among them.
        let mut bytes8 = |c: usize| (0..n * c).map(|_| next() as u8).collect::<Vec<u8>>();
        let b8: Vec<Vec<u8>> = (1..=4).map(&mut bytes8).collect();
        let mut words16 = |c: usize| {
            (0..n * c)
                .map(|i| match i % 5 {
                    0 => 0,
                    1 => u16::MAX,
                    _ => next() as u16,
                })
                .collect::<Vec<u16>>()
        };
        let w16: Vec<Vec<u16>> = (1..=4).map(&mut words16).collect();
        let raw8 = |c: usize| b8[c - 1].clone();
        let raw16 = |c: usize| w16[c - 1].clone();
        let images = [
            DynamicImage::ImageLuma8(ImageBuffer::from_raw(w, h, raw8(1)).unwrap()),
            DynamicImage::ImageLumaA8(ImageBuffer::from_raw(w, h, raw8(2)).unwrap()),
            DynamicImage::ImageRgb8(ImageBuffer::from_raw(w, h, raw8(3)).unwrap()),
            DynamicImage::ImageRgba8(ImageBuffer::from_raw(w, h, raw8(4)).unwrap()),
            DynamicImage::ImageLuma16(ImageBuffer::from_raw(w, h, raw16(1)).unwrap()),
            DynamicImage::ImageLumaA16(ImageBuffer::from_raw(w, h, raw16(2)).unwrap()),
            DynamicImage::ImageRgb16(ImageBuffer::from_raw(w, h, raw16(3)).unwrap()),
            DynamicImage::ImageRgba16(ImageBuffer::from_raw(w, h, raw16(4)).unwrap()),
        ];
        for image in &images {
            let mut buffer = image.as_bytes().to_vec();
            grey_in_place(&mut buffer, image.color());
            assert_eq!(
                &buffer[..n],
                &grey_via_rgb8(image)[..],
                "{:?}",
                image.color()
            );
        }
    }

    #[test]
    fn analyses_16_bit_pngs_as_their_8_bit_rounding() {
        let rgb16 = ImageBuffer::from_fn(300, 300, |x, y| {
            image::Rgb([(x * 211) as u16, (y * 199) as u16, ((x + y) * 97) as u16])
        });
        let mut out = Cursor::new(Vec::new());
        DynamicImage::ImageRgb16(rgb16.clone())
            .write_to(&mut out, ImageFormat::Png)
            .unwrap();
        let eight = DynamicImage::ImageRgb16(rgb16).to_rgb8();
        let a = analyze_default(&out.into_inner()).unwrap();
        let b = analyze_default(&encode(&eight, ImageFormat::Png)).unwrap();
        assert_eq!(
            (a.sharpness, a.exposure, a.dhash),
            (b.sharpness, b.exposure, b.dhash)
        );
    }

    /// Heap bytes live and their peak, per thread, for measuring one analysis.
    mod heap {
        use std::alloc::{GlobalAlloc, Layout, System};
        use std::cell::Cell;

        thread_local! {
            static LIVE: Cell<usize> = const { Cell::new(0) };
            static PEAK: Cell<usize> = const { Cell::new(0) };
        }

        struct Counting;

        fn grew(by: usize) {
            let _ = LIVE.try_with(|live| {
                live.set(live.get() + by);
                let _ = PEAK.try_with(|peak| peak.set(peak.get().max(live.get())));
            });
        }

        fn shrank(by: usize) {
            let _ = LIVE.try_with(|live| live.set(live.get().saturating_sub(by)));
        }

        // SAFETY: every call is forwarded to the system allocator unchanged.
        unsafe impl GlobalAlloc for Counting {
            unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
                grew(layout.size());
                unsafe { System.alloc(layout) }
            }
            unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
                grew(layout.size());
                unsafe { System.alloc_zeroed(layout) }
            }
            unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
                shrank(layout.size());
                unsafe { System.dealloc(ptr, layout) }
            }
            unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
                // Counted as the moment both blocks may exist.
                grew(new_size);
                shrank(layout.size());
                unsafe { System.realloc(ptr, layout, new_size) }
            }
        }

        #[global_allocator]
        static ALLOCATOR: Counting = Counting;

        /// `f`'s result and the most heap it held at once beyond what was live before.
        pub fn peak_of<T>(f: impl FnOnce() -> T) -> (T, usize) {
            let base = LIVE.with(Cell::get);
            PEAK.with(|peak| peak.set(base));
            let out = f();
            (out, PEAK.with(Cell::get) - base)
        }
    }

    fn figure_pixels(bytes: &[u8]) -> u64 {
        ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .unwrap()
            .into_decoder()
            .unwrap()
            .total_bytes()
    }

    #[test]
    fn the_measured_peak_stays_within_the_figure_checked() {
        let picture = checkerboard(1200, 900, 7);
        let rgba16 =
            DynamicImage::ImageRgba16(DynamicImage::ImageRgb8(picture.clone()).to_rgba16());
        let grey16 =
            DynamicImage::ImageLuma16(DynamicImage::ImageRgb8(picture.clone()).to_luma16());
        let write = |image: &DynamicImage, format| {
            let mut out = Cursor::new(Vec::new());
            image.write_to(&mut out, format).unwrap();
            out.into_inner()
        };
        let cases = [
            ("png rgb8", encode(&picture, ImageFormat::Png)),
            ("png rgba16", write(&rgba16, ImageFormat::Png)),
            ("png l16", write(&grey16, ImageFormat::Png)),
            ("jpeg", encode(&picture, ImageFormat::Jpeg)),
            ("bmp", encode(&picture, ImageFormat::Bmp)),
            ("webp lossless", encode(&picture, ImageFormat::WebP)),
            (
                "webp lossless rgba",
                write(
                    &DynamicImage::ImageRgba8(DynamicImage::ImageRgb8(picture.clone()).to_rgba8()),
                    ImageFormat::WebP,
                ),
            ),
        ];
        for (name, bytes) in cases {
            let decoder = ImageReader::new(Cursor::new(&bytes))
                .with_guessed_format()
                .unwrap()
                .into_decoder()
                .unwrap();
            let format = match name.split(' ').next().unwrap() {
                "png" => HeroFormat::Png,
                "jpeg" => HeroFormat::Jpeg,
                "bmp" => HeroFormat::Bmp,
                _ => HeroFormat::WebP,
            };
            let figure = analysis_bytes(&bytes, format, 1200, 900, decoder.total_bytes());
            drop(decoder);
            let (report, heap_peak) = heap::peak_of(|| analyze_default(&bytes));
            assert!(report.is_ok(), "{name}");
            // The decoded pixels come from the system allocator, past the counting one; they
            // are held from decoding to the end of the resize, where the peaks are.
            let peak = heap_peak + (figure_pixels(&bytes) as usize);
            // Beside the figure: row buffers, decoder state, the 256-pixel image.
            let slack = 1 << 20;
            assert!(
                peak as u64 <= figure + slack,
                "{name}: peak {peak} bytes, figure {figure}"
            );
            // And the figure is not a gross overestimate either.
            assert!(
                figure <= peak as u64 * 2,
                "{name}: peak {peak} bytes, figure {figure}"
            );
            println!("{name}: peak {peak}, figure {figure}");
        }
    }
}
