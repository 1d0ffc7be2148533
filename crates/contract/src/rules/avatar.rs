//! [`Avatar`] (個人頭像): an uploaded photo made safe to store and show.
//!
//! Order of checks, cheapest first, so hostile input costs nothing:
//! 1. size ≤ [`AVATAR_MAX_BYTES`] — before looking at a single byte (a
//!    100 MB buffer is refused in O(1));
//! 2. format by magic bytes only (JPEG, PNG, WebP, GIF; a renamed `.exe` or
//!    an SVG is refused whatever its name or declared type);
//! 3. dimensions from the header (`ImageReader::into_dimensions`, which
//!    parses headers only) ≤ [`AVATAR_MAX_SIDE`] on each side — a
//!    20000×20000 PNG is refused without allocating its pixels;
//! 4. decoding under `image::Limits` (the same side limits, and at most
//!    [`AVATAR_MAX_ALLOC`] bytes for the decoded buffer) against
//!    decompression bombs;
//! 5. center-crop to a square, resize to [`AVATAR_SIZE`]², apply the EXIF
//!    orientation, re-encode as PNG. Only pixels survive: EXIF (GPS, camera,
//!    time), XMP, ICC and comments are dropped by construction.

use std::fmt;
use std::io::Cursor;

use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use image::codecs::png::PngEncoder;
use image::imageops::{self, FilterType};
use image::metadata::Orientation;
use image::{
    DynamicImage, ExtendedColorType, ImageDecoder, ImageEncoder, ImageError, ImageFormat,
    ImageReader, Limits, RgbaImage,
};

use super::{codes, Field, RuleError};

/// Largest accepted upload: 5 MiB.
pub const AVATAR_MAX_BYTES: usize = 5 * 1024 * 1024;
/// Largest accepted width or height, read from the header before decoding.
pub const AVATAR_MAX_SIDE: u32 = 8000;
/// The stored avatar is a PNG of this many pixels square.
pub const AVATAR_SIZE: u32 = 256;
/// Most bytes the decoded image may take: an 8000×8000 RGBA8 image. A
/// 16-bit-per-channel image of that size is refused (`avatar.dimensions`).
pub const AVATAR_MAX_ALLOC: u64 = AVATAR_MAX_SIDE as u64 * AVATAR_MAX_SIDE as u64 * 4;

/// Standard alphabet, padding optional (as `wire::RegistrationRequest` says).
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Above this side the crop is first box-averaged to twice the target size
/// (fast, each source pixel read once), then filtered down with Lanczos3.
const PRESCALE_SIDE: u32 = AVATAR_SIZE * 2;

/// A processed avatar: a [`AVATAR_SIZE`]² PNG with no metadata.
#[derive(Clone, PartialEq, Eq)]
pub struct Avatar {
    png: Vec<u8>,
    width: u32,
    height: u32,
}

impl Avatar {
    /// Checks and converts an uploaded image (see the module docs for the
    /// order of checks). Empty input is `required`: call this only when the
    /// user chose a photo.
    pub fn process(bytes: &[u8]) -> Result<Avatar, RuleError> {
        if bytes.len() > AVATAR_MAX_BYTES {
            return Err(err(codes::AVATAR_TOO_LARGE));
        }
        if bytes.is_empty() {
            return Err(err(codes::REQUIRED));
        }
        let format = sniff(bytes).ok_or_else(|| err(codes::AVATAR_FORMAT))?;

        let (width, height) = reader(bytes, format)
            .into_dimensions()
            .map_err(image_error)?;
        if width > AVATAR_MAX_SIDE || height > AVATAR_MAX_SIDE {
            return Err(err(codes::AVATAR_DIMENSIONS));
        }
        if width == 0 || height == 0 {
            return Err(err(codes::AVATAR_CORRUPT));
        }

        let mut decoder = reader(bytes, format).into_decoder().map_err(image_error)?;
        // Orientation is a hint: unreadable EXIF leaves the pixels as stored.
        let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
        if decoder.total_bytes() > AVATAR_MAX_ALLOC {
            return Err(err(codes::AVATAR_DIMENSIONS));
        }
        let image = DynamicImage::from_decoder(decoder).map_err(image_error)?;

        let square = square_thumbnail(&image);
        let mut out = DynamicImage::ImageRgba8(square);
        out.apply_orientation(orientation);
        let png = encode_png(out)?;
        Ok(Avatar {
            png,
            width: AVATAR_SIZE,
            height: AVATAR_SIZE,
        })
    }

    /// [`Avatar::process`] for the API's `avatar` field: standard base64
    /// (padding optional), optionally as a `data:…;base64,` URL (its declared type is ignored;
    /// the magic bytes decide). Oversized text is refused before decoding.
    pub fn from_base64(text: &str) -> Result<Avatar, RuleError> {
        let text = text.trim();
        let text = match text.strip_prefix("data:") {
            Some(rest) => match rest.split_once(',') {
                Some((meta, data)) if meta.ends_with(";base64") => data,
                _ => return Err(err(codes::AVATAR_CORRUPT)),
            },
            None => text,
        };
        if text.len() > AVATAR_MAX_BYTES.div_ceil(3) * 4 {
            return Err(err(codes::AVATAR_TOO_LARGE));
        }
        let bytes = BASE64
            .decode(text)
            .map_err(|_| err(codes::AVATAR_CORRUPT))?;
        Avatar::process(&bytes)
    }

    /// The PNG file.
    pub fn png_bytes(&self) -> &[u8] {
        &self.png
    }

    pub fn into_png_bytes(self) -> Vec<u8> {
        self.png
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }
}

impl fmt::Debug for Avatar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Avatar")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("png_len", &self.png.len())
            .finish()
    }
}

fn err(code: &'static str) -> RuleError {
    RuleError::new(Field::Avatar, code)
}

/// Limits hit mean "too big to decode"; anything else means the file is
/// not a well-formed image of its format.
fn image_error(e: ImageError) -> RuleError {
    match e {
        ImageError::Limits(_) => err(codes::AVATAR_DIMENSIONS),
        _ => err(codes::AVATAR_CORRUPT),
    }
}

/// The format by its magic bytes; only the four accepted ones.
fn sniff(bytes: &[u8]) -> Option<ImageFormat> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(ImageFormat::Jpeg)
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(ImageFormat::Png)
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some(ImageFormat::Gif)
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        Some(ImageFormat::WebP)
    } else {
        None
    }
}

fn limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(AVATAR_MAX_SIDE);
    limits.max_image_height = Some(AVATAR_MAX_SIDE);
    limits.max_alloc = Some(AVATAR_MAX_ALLOC);
    limits
}

fn reader(bytes: &[u8], format: ImageFormat) -> ImageReader<Cursor<&[u8]>> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits());
    reader
}

/// The centered square, resized to `AVATAR_SIZE`², without copying the
/// full-size image.
fn square_thumbnail(image: &DynamicImage) -> RgbaImage {
    let (w, h) = (image.width(), image.height());
    let side = w.min(h);
    let view = imageops::crop_imm(image, (w - side) / 2, (h - side) / 2, side, side);
    if side > PRESCALE_SIDE {
        let smaller = imageops::thumbnail(&*view, PRESCALE_SIDE, PRESCALE_SIDE);
        imageops::resize(&smaller, AVATAR_SIZE, AVATAR_SIZE, FilterType::Lanczos3)
    } else {
        imageops::resize(&*view, AVATAR_SIZE, AVATAR_SIZE, FilterType::Lanczos3)
    }
}

/// PNG with pixel data only; RGB when fully opaque (smaller), else RGBA.
fn encode_png(image: DynamicImage) -> Result<Vec<u8>, RuleError> {
    let rgba = image.to_rgba8();
    let (w, h) = rgba.dimensions();
    let mut png = Vec::new();
    let encoder = PngEncoder::new(&mut png);
    let result = if rgba.pixels().all(|p| p.0[3] == u8::MAX) {
        let rgb = DynamicImage::ImageRgba8(rgba).to_rgb8();
        encoder.write_image(rgb.as_raw(), w, h, ExtendedColorType::Rgb8)
    } else {
        encoder.write_image(rgba.as_raw(), w, h, ExtendedColorType::Rgba8)
    };
    result.map_err(|_| err(codes::AVATAR_CORRUPT))?;
    Ok(png)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::codecs::jpeg::JpegEncoder;
    use image::{GenericImageView, Rgb, RgbImage, Rgba};
    use std::time::{Duration, Instant};

    fn code(bytes: &[u8]) -> &'static str {
        let e = Avatar::process(bytes).unwrap_err();
        assert_eq!(e.field, Field::Avatar);
        e.code
    }

    /// A left-red, right-blue RGB image.
    fn two_tone(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, _| {
            if x < w / 2 {
                Rgb([255, 0, 0])
            } else {
                Rgb([0, 0, 255])
            }
        })
    }

    fn encode(image: DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    fn jpeg(image: &RgbImage) -> Vec<u8> {
        let mut out = Vec::new();
        JpegEncoder::new_with_quality(&mut out, 95)
            .encode_image(image)
            .unwrap();
        out
    }

    /// A big-endian TIFF EXIF block: Orientation, Make, and a GPS IFD
    /// pointer, preceded by `Exif\0\0`.
    fn exif_block(orientation: u16) -> Vec<u8> {
        let mut t = Vec::new();
        t.extend_from_slice(b"MM\x00\x2a\x00\x00\x00\x08"); // header, IFD0 at 8
        t.extend_from_slice(&3u16.to_be_bytes()); // 3 entries
                                                  // Make (0x010F), ASCII, count 12, offset 50.
        t.extend_from_slice(&[0x01, 0x0F, 0x00, 0x02, 0, 0, 0, 12, 0, 0, 0, 50]);
        // Orientation (0x0112), SHORT, count 1, value inline.
        t.extend_from_slice(&[0x01, 0x12, 0x00, 0x03, 0, 0, 0, 1]);
        t.extend_from_slice(&orientation.to_be_bytes());
        t.extend_from_slice(&[0, 0]);
        // GPSInfo IFD pointer (0x8825), LONG, count 1, offset 62.
        t.extend_from_slice(&[0x88, 0x25, 0x00, 0x04, 0, 0, 0, 1, 0, 0, 0, 62]);
        t.extend_from_slice(&[0, 0, 0, 0]); // no next IFD
        assert_eq!(t.len(), 50);
        t.extend_from_slice(b"SECRETCAM01\0"); // 12 bytes at 50
                                               // GPS IFD at 62: one entry GPSLatitudeRef 'N'.
        t.extend_from_slice(&1u16.to_be_bytes());
        t.extend_from_slice(&[0x00, 0x01, 0x00, 0x02, 0, 0, 0, 2, b'N', 0, 0, 0]);
        t.extend_from_slice(&[0, 0, 0, 0]);
        let mut block = b"Exif\0\0".to_vec();
        block.extend_from_slice(&t);
        block
    }

    /// Inserts an APP1 EXIF segment right after SOI.
    fn with_exif(jpeg: &[u8], orientation: u16) -> Vec<u8> {
        let block = exif_block(orientation);
        let len = u16::try_from(block.len() + 2).unwrap();
        let mut out = jpeg[..2].to_vec();
        out.extend_from_slice(&[0xFF, 0xE1]);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&block);
        out.extend_from_slice(&jpeg[2..]);
        out
    }

    fn decode(avatar: &Avatar) -> DynamicImage {
        image::load_from_memory_with_format(avatar.png_bytes(), ImageFormat::Png).unwrap()
    }

    fn is_red(p: Rgba<u8>) -> bool {
        p.0[0] > 200 && p.0[2] < 60
    }

    fn is_blue(p: Rgba<u8>) -> bool {
        p.0[2] > 200 && p.0[0] < 60
    }

    #[test]
    fn accepts_each_format_and_outputs_a_256_square_png() {
        let src = DynamicImage::ImageRgb8(two_tone(300, 200));
        for format in [
            ImageFormat::Png,
            ImageFormat::Jpeg,
            ImageFormat::Gif,
            ImageFormat::WebP,
        ] {
            let bytes = encode(src.clone(), format);
            let a = Avatar::process(&bytes).unwrap_or_else(|e| panic!("{format:?}: {e}"));
            assert_eq!((a.width(), a.height()), (AVATAR_SIZE, AVATAR_SIZE));
            assert!(a.png_bytes().starts_with(b"\x89PNG\r\n\x1a\n"));
            let out = decode(&a);
            assert_eq!(out.dimensions(), (256, 256));
            // Center crop of 300×200 is x 50..250: left half red, right blue.
            assert!(is_red(out.get_pixel(10, 128)), "{format:?}");
            assert!(is_blue(out.get_pixel(245, 128)), "{format:?}");
        }
    }

    #[test]
    fn small_tall_and_large_images_are_cropped_and_scaled() {
        let tall = DynamicImage::ImageRgb8(two_tone(40, 90));
        let a = Avatar::process(&encode(tall, ImageFormat::Png)).unwrap();
        assert_eq!(decode(&a).dimensions(), (256, 256));
        let big = DynamicImage::ImageRgb8(two_tone(1500, 1100));
        let a = Avatar::process(&encode(big, ImageFormat::Png)).unwrap();
        let out = decode(&a);
        assert!(is_red(out.get_pixel(5, 5)) && is_blue(out.get_pixel(250, 250)));
    }

    #[test]
    fn transparency_is_kept() {
        let img = RgbaImage::from_pixel(64, 64, Rgba([0, 128, 0, 0]));
        let a = Avatar::process(&encode(DynamicImage::ImageRgba8(img), ImageFormat::Png)).unwrap();
        assert_eq!(decode(&a).get_pixel(100, 100).0[3], 0);
    }

    #[test]
    fn jpeg_exif_is_stripped_and_orientation_applied() {
        let plain = jpeg(&two_tone(200, 100));
        let tagged = with_exif(&plain, 6); // 6 = rotate 90° clockwise
                                           // The input really carries EXIF the decoder can read.
        let mut dec = image::codecs::jpeg::JpegDecoder::new(Cursor::new(&tagged)).unwrap();
        let exif = dec.exif_metadata().unwrap().expect("test JPEG has EXIF");
        assert!(exif.windows(11).any(|w| w == b"SECRETCAM01"));
        assert_eq!(dec.orientation().unwrap(), Orientation::Rotate90);

        let a = Avatar::process(&tagged).unwrap();
        let png = a.png_bytes();
        for needle in [
            &b"Exif"[..],
            b"eXIf",
            b"SECRETCAM01",
            b"MM\x00\x2a",
            b"iTXt",
            b"tEXt",
            b"zTXt",
        ] {
            assert!(
                !png.windows(needle.len()).any(|w| w == needle),
                "{needle:?} left in output"
            );
        }
        let mut out_dec = image::codecs::png::PngDecoder::new(Cursor::new(png)).unwrap();
        assert_eq!(out_dec.exif_metadata().unwrap(), None);
        // Left red / right blue, rotated 90° clockwise: red on top.
        let out = decode(&a);
        assert!(
            is_red(out.get_pixel(128, 10)),
            "{:?}",
            out.get_pixel(128, 10)
        );
        assert!(is_blue(out.get_pixel(128, 245)));
        // Without the tag the halves stay left/right.
        let out = decode(&Avatar::process(&plain).unwrap());
        assert!(is_red(out.get_pixel(10, 128)) && is_blue(out.get_pixel(245, 128)));
    }

    #[test]
    fn renamed_executables_and_other_formats_are_refused() {
        let mut exe = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff".to_vec();
        exe.resize(4096, 0);
        assert_eq!(code(&exe), codes::AVATAR_FORMAT);
        assert_eq!(
            code(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0"),
            codes::AVATAR_FORMAT
        );
        assert_eq!(
            code(b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>"),
            codes::AVATAR_FORMAT
        );
        assert_eq!(code(b"BM\x36\0\0\0"), codes::AVATAR_FORMAT);
        assert_eq!(code(b"RIFF\0\0\0\0WAVEfmt "), codes::AVATAR_FORMAT);
        assert_eq!(code(b""), codes::REQUIRED);
    }

    #[test]
    fn size_is_checked_before_anything_else() {
        let started = Instant::now();
        let huge = vec![0u8; 100 * 1024 * 1024];
        assert_eq!(code(&huge), codes::AVATAR_TOO_LARGE);
        // Even with valid magic bytes.
        let mut huge_png = huge;
        huge_png[..8].copy_from_slice(b"\x89PNG\r\n\x1a\n");
        assert_eq!(code(&huge_png), codes::AVATAR_TOO_LARGE);
        assert_eq!(
            code(&vec![0u8; AVATAR_MAX_BYTES + 1]),
            codes::AVATAR_TOO_LARGE
        );
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    /// A PNG with the given IHDR and a tiny (garbage) IDAT.
    pub(crate) fn png_header_only(width: u32, height: u32, depth: u8, color: u8) -> Vec<u8> {
        fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
            out.extend_from_slice(&u32::try_from(data.len()).unwrap().to_be_bytes());
            let mut crc_input = kind.to_vec();
            crc_input.extend_from_slice(data);
            out.extend_from_slice(&crc_input);
            out.extend_from_slice(&crc32(&crc_input).to_be_bytes());
        }
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&width.to_be_bytes());
        ihdr.extend_from_slice(&height.to_be_bytes());
        ihdr.extend_from_slice(&[depth, color, 0, 0, 0]);
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        chunk(&mut out, b"IHDR", &ihdr);
        chunk(
            &mut out,
            b"IDAT",
            &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
        );
        chunk(&mut out, b"IEND", &[]);
        out
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn huge_dimensions_are_refused_from_the_header() {
        let bomb = png_header_only(20_000, 20_000, 8, 6);
        assert!(bomb.len() < 100);
        // The crafted header is well-formed: a real PNG reader sees 20000×20000.
        let mut unlimited = ImageReader::with_format(Cursor::new(&bomb), ImageFormat::Png);
        unlimited.no_limits();
        assert_eq!(unlimited.into_dimensions().unwrap(), (20_000, 20_000));

        let started = Instant::now();
        assert_eq!(code(&bomb), codes::AVATAR_DIMENSIONS);
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(
            code(&png_header_only(8001, 10, 8, 2)),
            codes::AVATAR_DIMENSIONS
        );
        assert_eq!(
            code(&png_header_only(10, 8001, 8, 2)),
            codes::AVATAR_DIMENSIONS
        );
        // Within the side limit but 16-bit RGBA needs 8000·8000·8 bytes.
        assert_eq!(
            code(&png_header_only(8000, 8000, 16, 6)),
            codes::AVATAR_DIMENSIONS
        );
    }

    #[test]
    fn corrupt_files_are_refused() {
        let good = encode(DynamicImage::ImageRgb8(two_tone(64, 64)), ImageFormat::Png);
        assert_eq!(code(&good[..20]), codes::AVATAR_CORRUPT);
        assert_eq!(code(&png_header_only(64, 64, 8, 2)), codes::AVATAR_CORRUPT);
        assert_eq!(code(&png_header_only(0, 64, 8, 2)), codes::AVATAR_CORRUPT);
        assert_eq!(code(b"\xFF\xD8\xFF\xE0garbage"), codes::AVATAR_CORRUPT);
        assert_eq!(code(b"GIF89a"), codes::AVATAR_CORRUPT);
        assert_eq!(code(b"RIFF\x04\0\0\0WEBPVP8 "), codes::AVATAR_CORRUPT);
    }

    #[test]
    fn base64_and_data_urls() {
        let png = encode(DynamicImage::ImageRgb8(two_tone(32, 32)), ImageFormat::Png);
        let b64 = base64::engine::general_purpose::STANDARD.encode(&png);
        assert!(Avatar::from_base64(&b64).is_ok());
        assert!(Avatar::from_base64(b64.trim_end_matches('=')).is_ok());
        assert_eq!(BASE64.decode("YQ").unwrap(), b"a");
        assert_eq!(BASE64.decode("YQ==").unwrap(), b"a");
        assert!(Avatar::from_base64(&format!("data:image/jpeg;base64,{b64}")).is_ok());
        let e = |s: &str| Avatar::from_base64(s).unwrap_err().code;
        assert_eq!(e("not base64!"), codes::AVATAR_CORRUPT);
        assert_eq!(e("data:image/png,abc"), codes::AVATAR_CORRUPT);
        assert_eq!(e(&"A".repeat(8 * 1024 * 1024)), codes::AVATAR_TOO_LARGE);
        let exe = base64::engine::general_purpose::STANDARD.encode(b"MZ\x90\x00rest-of-exe");
        assert_eq!(e(&exe), codes::AVATAR_FORMAT);
    }

    #[test]
    fn debug_does_not_dump_bytes() {
        let png = encode(DynamicImage::ImageRgb8(two_tone(16, 16)), ImageFormat::Png);
        let shown = format!("{:?}", Avatar::process(&png).unwrap());
        assert!(
            shown.starts_with("Avatar { width: 256, height: 256, png_len: "),
            "{shown}"
        );
    }
}
