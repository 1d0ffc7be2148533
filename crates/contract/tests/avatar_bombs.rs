//! Hostile avatars must be refused cheaply: this test binary counts the
//! largest single allocation while `Avatar::process` runs and checks that a
//! 100 MB upload, and images whose headers claim huge dimensions (PNG, JPEG,
//! GIF, WebP), are refused without allocating anything near their pixel
//! buffers.
//!
//! One `#[test]` runs the cases one after another so the allocation counter
//! measures one case at a time.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Cursor;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use educloud_contract::rules::{codes, Avatar, Field};
use image::{DynamicImage, ImageFormat, RgbImage};

struct LargestAllocation;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for LargestAllocation {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        System.alloc(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        System.alloc_zeroed(layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOCATOR: LargestAllocation = LargestAllocation;

/// Runs `process` on `bytes`; returns the code, the largest allocation made
/// meanwhile, and the time taken.
fn measure(bytes: &[u8]) -> (&'static str, usize, Duration) {
    LARGEST.store(0, Ordering::SeqCst);
    let started = Instant::now();
    let result = Avatar::process(bytes);
    let elapsed = started.elapsed();
    let largest = LARGEST.load(Ordering::SeqCst);
    let err = result.expect_err("hostile avatar must be refused");
    assert_eq!(err.field, Field::Avatar);
    (err.code, largest, elapsed)
}

fn encode(image: DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, format).unwrap();
    out.into_inner()
}

fn small() -> DynamicImage {
    DynamicImage::ImageRgb8(RgbImage::from_pixel(16, 16, image::Rgb([10, 20, 30])))
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

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&u32::try_from(data.len()).unwrap().to_be_bytes());
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    out.extend_from_slice(&body);
    out.extend_from_slice(&crc32(&body).to_be_bytes());
}

/// A tiny, well-formed PNG whose IHDR claims `side`×`side` RGBA pixels.
fn png_claiming(side: u32) -> Vec<u8> {
    let mut ihdr = side.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&side.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    png_chunk(&mut out, b"IHDR", &ihdr);
    png_chunk(
        &mut out,
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    );
    png_chunk(&mut out, b"IEND", &[]);
    out
}

/// A real 16×16 JPEG whose SOF0 is rewritten to claim `side`×`side`.
fn jpeg_claiming(side: u16) -> Vec<u8> {
    let mut jpeg = encode(small(), ImageFormat::Jpeg);
    let sof = jpeg
        .windows(2)
        .position(|w| w == [0xFF, 0xC0])
        .expect("baseline JPEG has SOF0");
    // FFC0, length(2), precision(1), height(2), width(2).
    jpeg[sof + 5..sof + 7].copy_from_slice(&side.to_be_bytes());
    jpeg[sof + 7..sof + 9].copy_from_slice(&side.to_be_bytes());
    jpeg
}

/// A real 16×16 GIF whose logical screen claims `side`×`side`.
fn gif_claiming(side: u16) -> Vec<u8> {
    let mut gif = encode(small(), ImageFormat::Gif);
    gif[6..8].copy_from_slice(&side.to_le_bytes());
    gif[8..10].copy_from_slice(&side.to_le_bytes());
    gif
}

/// An extended WebP (VP8X) whose canvas claims `side`×`side`, followed by
/// a real 16×16 lossless image.
fn webp_claiming(side: u32) -> Vec<u8> {
    let real = encode(small(), ImageFormat::WebP);
    let image_chunk = &real[12..];
    let mut vp8x = b"VP8X".to_vec();
    vp8x.extend_from_slice(&10u32.to_le_bytes());
    vp8x.extend_from_slice(&[0, 0, 0, 0]);
    vp8x.extend_from_slice(&(side - 1).to_le_bytes()[..3]);
    vp8x.extend_from_slice(&(side - 1).to_le_bytes()[..3]);
    let mut out = b"RIFF".to_vec();
    let size = u32::try_from(4 + vp8x.len() + image_chunk.len()).unwrap();
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(b"WEBP");
    out.extend_from_slice(&vp8x);
    out.extend_from_slice(image_chunk);
    out
}

/// Nothing close to a decoded buffer (the claims above are 1.6–14 GB): the
/// biggest legitimate allocations in these paths are a decoder's read
/// buffer or input copy (a few kB here).
const SMALL_ALLOCATION: usize = 1024 * 1024;

#[test]
fn hostile_avatars_are_refused_without_big_allocations() {
    // 100 MB upload: refused by size, nothing allocated, no parsing.
    let huge = vec![0u8; 100 * 1024 * 1024];
    let (code, largest, elapsed) = measure(&huge);
    assert_eq!(code, codes::AVATAR_TOO_LARGE);
    assert_eq!(largest, 0, "the size check allocates nothing");
    assert!(elapsed < Duration::from_millis(100), "{elapsed:?}");
    drop(huge);

    // Sanity: the crafted files really claim those sizes to a header reader.
    let dims = |bytes: &[u8], format| {
        let mut r = image::ImageReader::with_format(Cursor::new(bytes), format);
        r.no_limits();
        r.into_dimensions()
    };
    assert_eq!(
        dims(&png_claiming(20_000), ImageFormat::Png).unwrap(),
        (20_000, 20_000)
    );
    assert_eq!(
        dims(&jpeg_claiming(60_000), ImageFormat::Jpeg).unwrap(),
        (60_000, 60_000)
    );
    assert_eq!(
        dims(&gif_claiming(60_000), ImageFormat::Gif).unwrap(),
        (60_000, 60_000)
    );

    for (name, bytes) in [
        ("png 20000²", png_claiming(20_000)),
        ("jpeg 60000²", jpeg_claiming(60_000)),
        ("gif 60000²", gif_claiming(60_000)),
        ("webp 16384²", webp_claiming(16_384)),
    ] {
        assert!(bytes.len() < 4096, "{name} is tiny");
        let (code, largest, elapsed) = measure(&bytes);
        eprintln!("{name}: {code}, largest allocation {largest} B, {elapsed:?}");
        assert_eq!(code, codes::AVATAR_DIMENSIONS, "{name}");
        assert!(
            largest < SMALL_ALLOCATION,
            "{name}: allocated {largest} bytes"
        );
        assert!(elapsed < Duration::from_secs(2), "{name}: {elapsed:?}");
    }

    // A legitimate small avatar passes under the same allocator, and the
    // counter sees its 256×256 RGBA working buffer (so it does count).
    let png = encode(small(), ImageFormat::Png);
    LARGEST.store(0, Ordering::SeqCst);
    let ok = Avatar::process(&png).unwrap();
    assert_eq!((ok.width(), ok.height()), (256, 256));
    assert!(LARGEST.load(Ordering::SeqCst) >= 256 * 256 * 4);
}
