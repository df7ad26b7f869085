//! Helpers shared by the test modules.

use std::io::Cursor;

use image::codecs::webp::WebPDecoder;
use image::{AnimationDecoder, ImageFormat, RgbaImage};
use mxcd_imaging::{Limits, Method, Spec, Thumbnail};

pub(crate) fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/../../tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub(crate) fn spec(width: u32, height: u32, method: Method) -> Spec {
    Spec {
        width,
        height,
        method,
    }
}

/// Synapse's default `thumbnail_sizes`.
pub(crate) fn default_sizes() -> Vec<Spec> {
    vec![
        spec(32, 32, Method::Crop),
        spec(96, 96, Method::Crop),
        spec(320, 240, Method::Scale),
        spec(640, 480, Method::Scale),
        spec(800, 600, Method::Scale),
    ]
}

pub(crate) fn limits() -> Limits {
    Limits::default()
}

pub(crate) fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Decodes a still thumbnail, checking that the bytes are in the format its media type says and
/// that the size is the one reported.
pub(crate) fn decode(t: &Thumbnail) -> RgbaImage {
    let format = image::guess_format(&t.bytes).expect("a known image format");
    assert_eq!(
        format.to_mime_type(),
        t.media_type,
        "bytes match the media type"
    );
    let img = image::load_from_memory_with_format(&t.bytes, format)
        .unwrap()
        .into_rgba8();
    assert_eq!(img.dimensions(), (t.width, t.height), "reported size");
    img
}

/// Decodes an animated WebP thumbnail: every frame with its duration in ms.
pub(crate) fn frames(t: &Thumbnail) -> Vec<(RgbaImage, u32)> {
    assert_eq!(image::guess_format(&t.bytes).unwrap(), ImageFormat::WebP);
    let decoder = WebPDecoder::new(Cursor::new(&t.bytes)).unwrap();
    assert!(decoder.has_animation(), "an animated WebP");
    decoder
        .into_frames()
        .map(|f| {
            let f = f.unwrap();
            let (n, d) = f.delay().numer_denom_ms();
            (f.into_buffer(), n / d)
        })
        .collect()
}

/// Each channel within `tolerance` (JPEG and WebP are lossy).
pub(crate) fn near(px: [u8; 4], want: [u8; 4], tolerance: u8) -> bool {
    px.iter().zip(want).all(|(a, b)| a.abs_diff(b) <= tolerance)
}

pub(crate) fn px(img: &RgbaImage, x: u32, y: u32) -> [u8; 4] {
    img.get_pixel(x, y).0
}

pub(crate) const RED: [u8; 4] = [255, 0, 0, 255];
pub(crate) const GREEN: [u8; 4] = [0, 255, 0, 255];
pub(crate) const BLUE: [u8; 4] = [0, 0, 255, 255];
pub(crate) const WHITE: [u8; 4] = [255, 255, 255, 255];
