//! Hero image (商品头图) analysis: safe decoding and the signals search ranks by.
//!
//! Limits are enforced before any pixel is allocated: at most [`MAX_BYTES`] of input, a format
//! among JPEG, PNG, WebP and BMP (detected from the bytes), dimensions read from the header
//! with at most [`MAX_PIXELS`] pixels (so a decompression bomb, a small file declaring huge
//! dimensions, is refused from its header), and no animation (APNG, animated WebP). Decoding
//! itself runs under `image::Limits` as a second guard.
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

use std::io::Cursor;

use image::codecs::png::PngDecoder;
use image::codecs::webp::WebPDecoder;
use image::imageops::FilterType;
use image::{DynamicImage, GrayImage, ImageFormat, ImageReader, Limits};
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
}

impl Refusal {
    pub fn name(self) -> &'static str {
        match self {
            Refusal::Format => "format",
            Refusal::Size => "size",
            Refusal::Dimensions => "dimensions",
            Refusal::Animation => "animation",
            Refusal::Corrupt => "corrupt",
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

/// Checks the limits from the bytes and the header, then decodes.
pub fn decode(bytes: &[u8]) -> CoreResult<(DynamicImage, HeroFormat)> {
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
    let image = reader.decode().map_err(|e| refuse(Refusal::Corrupt, e))?;
    Ok((image, format))
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

/// Grey (ITU-R 601 luma, Pillow's "L" formula), alpha ignored.
fn grey(image: &DynamicImage) -> GrayImage {
    let luma = |rgb: &[u8]| {
        let [r, g, b] = [u32::from(rgb[0]), u32::from(rgb[1]), u32::from(rgb[2])];
        ((19595 * r + 38470 * g + 7471 * b + 0x8000) >> 16) as u8
    };
    let (w, h) = (image.width(), image.height());
    let pixels: Vec<u8> = match image {
        DynamicImage::ImageLuma8(grey) => return grey.clone(),
        DynamicImage::ImageRgb8(rgb) => rgb.as_raw().chunks_exact(3).map(luma).collect(),
        DynamicImage::ImageRgba8(rgba) => rgba.as_raw().chunks_exact(4).map(luma).collect(),
        other => other.to_rgb8().as_raw().chunks_exact(3).map(luma).collect(),
    };
    GrayImage::from_raw(w, h, pixels).expect("one grey byte per pixel")
}

/// The grey image scaled so its longer side is at most [`ANALYSIS_SIDE`].
fn analysis_grey(image: &DynamicImage) -> GrayImage {
    let full = grey(image);
    let (w, h) = full.dimensions();
    let longer = w.max(h);
    if longer <= ANALYSIS_SIDE {
        return full;
    }
    let scale = f64::from(ANALYSIS_SIDE) / f64::from(longer);
    let nw = ((f64::from(w) * scale).round() as u32).max(1);
    let nh = ((f64::from(h) * scale).round() as u32).max(1);
    image::imageops::resize(&full, nw, nh, FilterType::Triangle)
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

/// Decodes (with every limit) and analyses a hero image.
pub fn analyze(bytes: &[u8]) -> CoreResult<HeroReport> {
    let (image, format) = decode(bytes)?;
    let (width, height) = (image.width(), image.height());
    let squareness = f64::from(width.min(height)) / f64::from(width.max(height));
    let grey = analysis_grey(&image);
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
        dhash: dhash(&DynamicImage::ImageLuma8(grey.clone())),
        quality: quality(squareness, sharpness, exposure, border_whiteness),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageBuffer, Rgb, RgbImage};

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
        let report = analyze(&encode(&checkerboard(400, 400, 20), ImageFormat::Png)).unwrap();
        assert_eq!(
            (report.width, report.height, report.format),
            (400, 400, HeroFormat::Png)
        );
        assert_eq!(report.squareness, 1.0);
        assert!(report.sharpness > 100.0);
        assert!((0.0..=1.0).contains(&report.quality));
        let wide = analyze(&encode(&checkerboard(600, 200, 20), ImageFormat::Png)).unwrap();
        assert!((wide.squareness - 1.0 / 3.0).abs() < 1e-12);
        assert!(wide.quality < report.quality);
    }

    #[test]
    fn a_flat_image_has_no_sharpness() {
        let flat: RgbImage = ImageBuffer::from_pixel(100, 100, Rgb([255, 255, 255]));
        let report = analyze(&encode(&flat, ImageFormat::Bmp)).unwrap();
        assert_eq!(report.sharpness, 0.0);
        assert_eq!(report.border_whiteness, 1.0);
        assert_eq!(report.exposure, 1.0);
    }

    fn reason(bytes: &[u8]) -> String {
        match analyze(bytes) {
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
        assert!(analyze(&jpeg).is_ok());
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
        assert_eq!(analyze(&top_down).unwrap().height, 8);
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
}
