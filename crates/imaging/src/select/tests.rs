#![cfg(test)]

use super::*;

fn c(width: u32, height: u32, method: Method, media_type: &str, length: u64) -> Candidate {
    Candidate {
        width,
        height,
        method,
        media_type: media_type.to_owned(),
        length,
    }
}

/// Synapse's stored set for a JPEG source with the default sizes.
fn jpeg_defaults() -> Vec<Candidate> {
    vec![
        c(32, 32, Method::Crop, "image/jpeg", 900),
        c(96, 96, Method::Crop, "image/jpeg", 3_000),
        c(320, 240, Method::Scale, "image/jpeg", 20_000),
        c(640, 480, Method::Scale, "image/jpeg", 60_000),
        c(800, 600, Method::Scale, "image/jpeg", 90_000),
    ]
}

fn pick(cands: &[Candidate], w: u32, h: u32, method: &str, ty: &str) -> Option<(u32, u32)> {
    select(cands, w, h, method, ty).map(|c| (c.width, c.height))
}

/// Port of Synapse's `test_same_quality` (tests/media/test_media_storage.py): two identical
/// thumbnails, equally good, still give an answer.
#[test]
fn same_quality_still_selects() {
    for (method, m, size) in [
        ("crop", Method::Crop, 16),
        ("crop", Method::Crop, 64),
        ("scale", Method::Scale, 16),
        ("scale", Method::Scale, 64),
    ] {
        let cands = [
            c(32, 32, m, "image/png", 256),
            c(32, 32, m, "image/png", 256),
        ];
        let chosen = select(&cands, size, size, method, "image/png").expect("a thumbnail");
        assert!(
            std::ptr::eq(chosen, &cands[0]),
            "ties go to the first candidate"
        );
    }
}

#[test]
fn crop_prefers_the_closest_larger_square() {
    let cands = jpeg_defaults();
    assert_eq!(pick(&cands, 16, 16, "crop", "image/png"), Some((32, 32)));
    assert_eq!(pick(&cands, 64, 64, "crop", "image/png"), Some((96, 96)));
    assert_eq!(pick(&cands, 96, 96, "crop", "image/png"), Some((96, 96)));
    // Nothing as large: the best of the smaller ones.
    assert_eq!(pick(&cands, 200, 200, "crop", "image/png"), Some((96, 96)));
}

#[test]
fn crop_puts_aspect_before_size() {
    let cands = [
        c(96, 96, Method::Crop, "image/png", 1),
        c(400, 200, Method::Crop, "image/png", 1),
    ];
    assert_eq!(pick(&cands, 100, 50, "crop", "image/png"), Some((400, 200)));
    assert_eq!(pick(&cands, 50, 50, "crop", "image/png"), Some((96, 96)));
}

#[test]
fn crop_prefers_covering_both_sides() {
    // Equal aspect quality (10000): covering both sides beats a closer size.
    let cands = [
        c(110, 10, Method::Crop, "image/png", 1),
        c(300, 200, Method::Crop, "image/png", 1),
    ];
    assert_eq!(
        pick(&cands, 100, 100, "crop", "image/png"),
        Some((300, 200))
    );
}

#[test]
fn scale_prefers_the_smallest_covering_area_difference() {
    let cands = jpeg_defaults();
    assert_eq!(
        pick(&cands, 500, 400, "scale", "image/png"),
        Some((640, 480))
    );
    assert_eq!(
        pick(&cands, 320, 240, "scale", "image/png"),
        Some((320, 240))
    );
    assert_eq!(pick(&cands, 1, 1, "scale", "image/png"), Some((320, 240)));
    // Larger than everything: the closest smaller one.
    assert_eq!(
        pick(&cands, 2000, 2000, "scale", "image/png"),
        Some((800, 600))
    );
    // Wide request: 640x480 is at least as wide as 600, so it is in the preferred group.
    assert_eq!(
        pick(&cands, 600, 10, "scale", "image/png"),
        Some((640, 480))
    );
}

#[test]
fn type_then_length_break_ties() {
    let cands = [
        c(320, 240, Method::Scale, "image/jpeg", 10),
        c(320, 240, Method::Scale, "image/webp", 50),
        c(320, 240, Method::Scale, "image/webp", 40),
    ];
    assert_eq!(
        select(&cands, 320, 240, "scale", "image/webp").map(|c| c.length),
        Some(40)
    );
    assert_eq!(
        select(&cands, 320, 240, "scale", "image/jpeg").map(|c| c.length),
        Some(10)
    );
    // Neither type matches: the shortest.
    assert_eq!(
        select(&cands, 320, 240, "scale", "image/png").map(|c| c.length),
        Some(10)
    );
}

#[test]
fn animated_webp_is_preferred_only_when_asked_for() {
    // A GIF source: PNG stills plus animated WebP of the same sizes.
    let cands = [
        c(96, 96, Method::Crop, "image/png", 5_000),
        c(96, 96, Method::Crop, "image/webp", 9_000),
    ];
    let png = select(&cands, 96, 96, "crop", "image/png").map(|c| c.media_type.as_str());
    let webp = select(&cands, 96, 96, "crop", "image/webp").map(|c| c.media_type.as_str());
    assert_eq!((png, webp), (Some("image/png"), Some("image/webp")));
}

#[test]
fn method_must_match_and_is_lowercased() {
    let cands = jpeg_defaults();
    assert_eq!(pick(&cands, 32, 32, "CROP", "image/png"), Some((32, 32)));
    assert_eq!(pick(&cands, 32, 32, "invalid", "image/png"), None);
    let only_crop = &cands[..2];
    assert_eq!(pick(only_crop, 320, 240, "scale", "image/png"), None);
    let only_scale = &cands[2..];
    assert_eq!(pick(only_scale, 32, 32, "crop", "image/png"), None);
    assert_eq!(pick(&[], 32, 32, "crop", "image/png"), None);
}
