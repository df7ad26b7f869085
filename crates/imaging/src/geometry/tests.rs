#![cfg(test)]

use image::metadata::Orientation;
use image::{DynamicImage, Rgb, RgbImage};

use super::*;

#[test]
fn aspect_matches_synapse() {
    assert_eq!(aspect((2000, 1500), 320, 240), (320, 240));
    assert_eq!(aspect((1000, 500), 320, 240), (320, 160));
    assert_eq!(aspect((500, 1000), 320, 240), (120, 240));
    // Each side at least 1.
    assert_eq!(aspect((10_000, 1), 32, 32), (32, 1));
    assert_eq!(aspect((1, 10_000), 32, 32), (1, 32));
}

#[test]
fn scale_never_upscales() {
    assert_eq!(scale_size((100, 50), 320, 240), (100, 50));
    assert_eq!(scale_size((1, 1), 800, 600), (1, 1));
    assert_eq!(scale_size((2000, 1500), 800, 600), (800, 600));
    // Synapse clamps each side on its own.
    assert_eq!(scale_size((300, 100), 320, 240), (300, 100));
}

#[test]
fn crop_takes_the_centre_of_the_cover() {
    // 2000x1500 covered at 128x96, 16 px cut on each side: x = 16 * 2000 / 128.
    let r = crop_rect((2000, 1500), 96, 96);
    assert_eq!(
        r,
        Rect {
            x: 250.0,
            y: 0.0,
            w: 1500.0,
            h: 1500.0
        }
    );
    // A tall source: cropped top and bottom.
    let r = crop_rect((100, 400), 50, 50);
    assert_eq!(
        r,
        Rect {
            x: 0.0,
            y: 150.0,
            w: 100.0,
            h: 100.0
        }
    );
}

#[test]
fn crop_upscales_small_sources_like_synapse() {
    let p = placement(
        (1, 1),
        Spec {
            width: 32,
            height: 32,
            method: Method::Crop,
        },
    );
    assert_eq!((p.width, p.height), (32, 32));
    assert_eq!(p.rect, Rect::full(1, 1));
}

#[test]
fn scale_placement_shows_the_whole_source() {
    let p = placement(
        (4000, 3000),
        Spec {
            width: 320,
            height: 240,
            method: Method::Scale,
        },
    );
    assert_eq!((p.width, p.height, p.method), (320, 240, Method::Scale));
    assert_eq!(p.rect, Rect::full(4000, 3000));
}

const ALL: [Orientation; 8] = [
    Orientation::NoTransforms,
    Orientation::FlipHorizontal,
    Orientation::Rotate180,
    Orientation::FlipVertical,
    Orientation::Rotate90FlipH,
    Orientation::Rotate90,
    Orientation::Rotate270FlipH,
    Orientation::Rotate270,
];

/// Every displayed pixel maps back to the stored pixel that `apply_orientation` put there.
#[test]
fn to_stored_inverts_apply_orientation() {
    let (w, h) = (5u32, 3u32);
    let stored = RgbImage::from_fn(w, h, |x, y| Rgb([x as u8, y as u8, 0]));
    for o in ALL {
        let mut shown = DynamicImage::ImageRgb8(stored.clone());
        shown.apply_orientation(o);
        let shown = shown.into_rgb8();
        assert_eq!(shown.dimensions(), displayed((w, h), o), "{o:?}");
        for (dx, dy, px) in shown.enumerate_pixels() {
            let one = Rect {
                x: f64::from(dx),
                y: f64::from(dy),
                w: 1.0,
                h: 1.0,
            };
            let r = to_stored(one, o, (w, h));
            assert_eq!((r.w, r.h), (1.0, 1.0), "{o:?}");
            assert_eq!(
                [r.x as u8, r.y as u8],
                [px[0], px[1]],
                "{o:?} at ({dx}, {dy})"
            );
        }
    }
}

#[test]
fn rescale_maps_to_a_shrunk_decode() {
    let r = Rect {
        x: 250.0,
        y: 0.0,
        w: 1500.0,
        h: 1500.0,
    }
    .rescale((2000, 1500), (1000, 750));
    assert_eq!(
        r,
        Rect {
            x: 125.0,
            y: 0.0,
            w: 750.0,
            h: 750.0
        }
    );
}
