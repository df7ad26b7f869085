//! Animated sources: animated WebP thumbnails, frame counts, durations, and the still fallbacks.

use std::io::Cursor;

use image::codecs::gif::GifEncoder;
use image::codecs::webp::WebPDecoder;
use image::{Delay, Frame, RgbaImage};
use mxcd_imaging::{ANIMATED_TYPE, Limits, Method, generate, pregenerate};

use crate::support::*;

#[test]
fn gif_pregenerates_stills_and_animations() {
    // 120x90, 12 frames of 80 ms: every scale size collapses to 120x90.
    let thumbs = pregenerate(
        &fixture("animated.gif"),
        "image/gif",
        &default_sizes(),
        &limits(),
    )
    .unwrap();
    let got: Vec<_> = thumbs
        .iter()
        .map(|t| (t.width, t.height, t.method, t.media_type, t.animated))
        .collect();
    assert_eq!(
        got,
        [
            (32, 32, Method::Crop, "image/png", false),
            (96, 96, Method::Crop, "image/png", false),
            (120, 90, Method::Scale, "image/png", false),
            (32, 32, Method::Crop, ANIMATED_TYPE, true),
            (96, 96, Method::Crop, ANIMATED_TYPE, true),
            (120, 90, Method::Scale, ANIMATED_TYPE, true),
        ]
    );
    for t in thumbs.iter().filter(|t| t.animated) {
        let frames = frames(t);
        assert_eq!(frames.len(), 12, "{}x{}", t.width, t.height);
        for (img, ms) in &frames {
            assert_eq!(img.dimensions(), (t.width, t.height));
            assert_eq!(*ms, 80);
        }
    }
    // An opaque GIF gives RGB PNGs (no alpha channel to store).
    let color = image::load_from_memory(&thumbs[2].bytes).unwrap().color();
    assert_eq!(color, image::ColorType::Rgb8);
    // The still is the first frame: the red square at the left.
    let still = decode(&thumbs[2]);
    assert!(near(px(&still, 10, 20), RED, 8), "{:?}", px(&still, 10, 20));
    assert!(near(px(&still, 110, 20), WHITE, 8));
    // The last animated frame has it at the right.
    let last = frames(&thumbs[5]).pop().unwrap().0;
    assert!(
        near(last.get_pixel(110, 20).0, RED, 40),
        "{:?}",
        last.get_pixel(110, 20)
    );
}

#[test]
fn animated_webp_source() {
    let webp = fixture("animated.webp"); // 120x90, 8 frames of 100 ms
    let t = generate(
        &webp,
        "image/webp",
        spec(64, 64, Method::Crop),
        ANIMATED_TYPE,
        true,
        &limits(),
    )
    .unwrap();
    assert_eq!(
        (t.width, t.height, t.media_type, t.animated),
        (64, 64, ANIMATED_TYPE, true)
    );
    let frames = frames(&t);
    assert_eq!(frames.len(), 8);
    assert!(
        frames
            .iter()
            .all(|(img, ms)| img.dimensions() == (64, 64) && *ms == 100)
    );
    // Pre-generation: JPEG stills (WebP source) plus animations.
    let thumbs = pregenerate(&webp, "image/webp", &default_sizes(), &limits()).unwrap();
    assert_eq!(
        thumbs
            .iter()
            .filter(|t| t.media_type == "image/jpeg")
            .count(),
        3
    );
    assert_eq!(thumbs.iter().filter(|t| t.animated).count(), 3);
}

#[test]
fn apng_source() {
    let apng = fixture("animated.png"); // 100x80, 6 frames of 120 ms
    let t = generate(
        &apng,
        "image/png",
        spec(50, 50, Method::Scale),
        ANIMATED_TYPE,
        true,
        &limits(),
    )
    .unwrap();
    assert_eq!((t.width, t.height, t.animated), (50, 40, true));
    let frames = frames(&t);
    assert_eq!(frames.len(), 6);
    assert!(
        frames
            .iter()
            .all(|(img, ms)| img.dimensions() == (50, 40) && *ms == 120)
    );
}

#[test]
fn not_asking_for_animation_gives_the_still() {
    for (name, ty) in [
        ("animated.gif", "image/gif"),
        ("animated.webp", "image/webp"),
        ("animated.png", "image/png"),
    ] {
        let t = generate(
            &fixture(name),
            ty,
            spec(32, 32, Method::Crop),
            "image/png",
            false,
            &limits(),
        )
        .unwrap();
        assert_eq!((t.media_type, t.animated), ("image/png", false), "{name}");
        decode(&t);
    }
}

/// Synapse's `test_static_source_never_animates`: a still source asked for an animated
/// thumbnail gets a still one, in the requested type.
#[test]
fn still_sources_never_animate() {
    let png = fixture("alpha.png");
    let t = generate(
        &png,
        "image/png",
        spec(1, 1, Method::Scale),
        ANIMATED_TYPE,
        true,
        &limits(),
    )
    .unwrap();
    assert_eq!(
        (t.width, t.height, t.media_type, t.animated),
        (1, 1, ANIMATED_TYPE, false)
    );
    let photo = fixture("photo-exif6.jpg");
    let t = generate(
        &photo,
        "image/jpeg",
        spec(96, 96, Method::Crop),
        ANIMATED_TYPE,
        true,
        &limits(),
    )
    .unwrap();
    assert!(!t.animated);
    let decoder = WebPDecoder::new(Cursor::new(&t.bytes)).unwrap();
    assert!(!decoder.has_animation(), "a plain still WebP");
    decode(&t);
    // A GIF of a single frame is a still too.
    let gif = gif_of(&[RgbaImage::from_pixel(40, 30, image::Rgba(BLUE))]);
    let t = generate(
        &gif,
        "image/gif",
        spec(20, 20, Method::Crop),
        ANIMATED_TYPE,
        true,
        &limits(),
    )
    .unwrap();
    assert!(!t.animated);
    assert!(near(px(&decode(&t), 10, 10), BLUE, 20));
}

#[test]
fn frames_are_capped() {
    let five = Limits {
        max_frames: 5,
        ..Limits::default()
    };
    let t = generate(
        &fixture("animated.gif"),
        "image/gif",
        spec(32, 32, Method::Crop),
        ANIMATED_TYPE,
        true,
        &five,
    )
    .unwrap();
    assert_eq!(frames(&t).len(), 5);
    // A 32x32 thumbnail of the 120x90 canvas costs 120 * 90 + 32 * 32 a frame: room for 3.
    let budget = Limits {
        max_animation_pixels: 3 * (120 * 90 + 32 * 32) + 1,
        ..Limits::default()
    };
    let t = generate(
        &fixture("animated.gif"),
        "image/gif",
        spec(32, 32, Method::Crop),
        ANIMATED_TYPE,
        true,
        &budget,
    )
    .unwrap();
    assert_eq!(frames(&t).len(), 3);
    // Pre-generation makes three animations of this GIF (32x32, 96x96, 120x90).
    let budget = Limits {
        max_animation_pixels: 3 * (3 * 120 * 90 + 32 * 32 + 96 * 96 + 120 * 90),
        ..Limits::default()
    };
    let thumbs = pregenerate(
        &fixture("animated.gif"),
        "image/gif",
        &default_sizes(),
        &budget,
    )
    .unwrap();
    assert!(
        thumbs
            .iter()
            .filter(|t| t.animated)
            .all(|t| frames(t).len() == 3)
    );
    // A budget below two frames: stills only.
    let budget = Limits {
        max_animation_pixels: 120 * 90,
        ..Limits::default()
    };
    let t = generate(
        &fixture("animated.gif"),
        "image/gif",
        spec(32, 32, Method::Crop),
        ANIMATED_TYPE,
        true,
        &budget,
    )
    .unwrap();
    assert!(!t.animated);
    let thumbs = pregenerate(
        &fixture("animated.gif"),
        "image/gif",
        &default_sizes(),
        &budget,
    )
    .unwrap();
    assert_eq!(thumbs.len(), 3);
    assert!(thumbs.iter().all(|t| !t.animated));
}

#[test]
fn short_gif_delays_play_at_100_ms() {
    let frame = |c| RgbaImage::from_pixel(8, 8, image::Rgba(c));
    let gif = gif_of(&[frame(RED), frame(BLUE), frame(GREEN)]);
    let t = generate(
        &gif,
        "image/gif",
        spec(8, 8, Method::Scale),
        ANIMATED_TYPE,
        true,
        &limits(),
    )
    .unwrap();
    let frames = frames(&t);
    assert_eq!(frames.len(), 3);
    assert!(
        frames.iter().all(|(_, ms)| *ms == 100),
        "{:?}",
        frames.iter().map(|f| f.1).collect::<Vec<_>>()
    );
}

/// A GIF of the given frames, 0 ms each.
pub(crate) fn gif_of(frames: &[RgbaImage]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = GifEncoder::new(&mut out);
        let frames = frames
            .iter()
            .map(|f| Frame::from_parts(f.clone(), 0, 0, Delay::from_numer_denom_ms(0, 1)));
        enc.encode_frames(frames).unwrap();
    }
    out
}
