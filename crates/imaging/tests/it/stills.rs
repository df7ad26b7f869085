//! Still thumbnails of the fixtures: sizes, types, orientation, colour handling.

use mxcd_imaging::{ErrorKind, Method, generate, is_thumbnailable, output_type, pregenerate};

use crate::support::*;

#[test]
fn media_types_follow_synapse() {
    for t in [
        "image/jpeg",
        "image/jpg",
        "image/webp",
        "image/gif",
        "image/png",
    ] {
        assert!(is_thumbnailable(t), "{t}");
    }
    assert!(is_thumbnailable("image/png; charset=binary"));
    assert!(!is_thumbnailable("image/svg+xml"));
    assert!(!is_thumbnailable("IMAGE/PNG"), "case-sensitive, as Synapse");
    assert!(!is_thumbnailable("video/mp4"));
    assert_eq!(output_type("image/jpeg"), "image/jpeg");
    assert_eq!(output_type("image/jpg"), "image/jpeg");
    assert_eq!(output_type("image/webp;x=y"), "image/jpeg");
    assert_eq!(output_type("image/png"), "image/png");
    assert_eq!(output_type("image/gif"), "image/png");
}

#[test]
fn photo_gets_the_default_sizes_rotated() {
    // Stored 480x320 with EXIF orientation 6: displayed 320x480.
    let thumbs = pregenerate(
        &fixture("photo-exif6.jpg"),
        "image/jpeg",
        &default_sizes(),
        &limits(),
    )
    .unwrap();
    let got: Vec<_> = thumbs
        .iter()
        .map(|t| (t.width, t.height, t.method, t.animated))
        .collect();
    // 640x480 and 800x600 both scale to the source's 320x480: one thumbnail.
    assert_eq!(
        got,
        [
            (32, 32, Method::Crop, false),
            (96, 96, Method::Crop, false),
            (160, 240, Method::Scale, false),
            (320, 480, Method::Scale, false),
        ]
    );
    for t in &thumbs {
        assert_eq!(t.media_type, "image/jpeg");
        decode(t);
    }
    // Stored top-left (red) is displayed top-right, stored top-right (green) bottom-right.
    let img = decode(&thumbs[2]);
    assert!(near(px(&img, 150, 10), RED, 40), "{:?}", px(&img, 150, 10));
    assert!(
        near(px(&img, 150, 230), GREEN, 40),
        "{:?}",
        px(&img, 150, 230)
    );
    assert!(!near(px(&img, 10, 10), RED, 80));
}

/// The photo with its EXIF orientation rewritten to each of the 8 values: the stored top-left
/// red corner must land where a viewer shows it.
#[test]
fn every_exif_orientation_is_applied() {
    let photo = fixture("photo-exif6.jpg");
    let tag = [0x01, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00];
    let at = photo.windows(tag.len()).position(|w| w == tag).unwrap() + tag.len();
    assert_eq!(photo[at], 6);
    // (orientation, displayed size of a scale-to-240 thumbnail, where the red corner shows)
    let cases = [
        (1, (240, 160), (10, 10)),
        (2, (240, 160), (230, 10)),
        (3, (240, 160), (230, 150)),
        (4, (240, 160), (10, 150)),
        (5, (160, 240), (10, 10)),
        (6, (160, 240), (150, 10)),
        (7, (160, 240), (150, 230)),
        (8, (160, 240), (10, 230)),
    ];
    for (orientation, size, (x, y)) in cases {
        let mut bytes = photo.clone();
        bytes[at] = orientation;
        let spec = spec(240, 240, Method::Scale);
        let t = generate(&bytes, "image/jpeg", spec, "image/png", false, &limits()).unwrap();
        let img = decode(&t);
        assert_eq!(img.dimensions(), size, "orientation {orientation}");
        assert!(
            near(px(&img, x, y), RED, 40),
            "orientation {orientation}: {:?}",
            px(&img, x, y)
        );
    }
}

#[test]
fn scale_never_upscales_but_crop_does() {
    let grey = fixture("grey.jpg"); // 300x200
    let cases = [
        (spec(800, 600, Method::Scale), (300, 200)),
        (spec(100, 100, Method::Scale), (100, 66)),
        (spec(400, 400, Method::Crop), (400, 400)),
        (spec(50, 100, Method::Crop), (50, 100)),
    ];
    for (spec, size) in cases {
        let t = generate(&grey, "image/jpeg", spec, "image/jpeg", false, &limits()).unwrap();
        assert_eq!((t.width, t.height), size, "{spec:?}");
        decode(&t);
    }
}

#[test]
fn crop_keeps_the_centre() {
    // Palette bands of 20 px: a 40x120 crop of the 160x120 image shows the 4th and 5th bands.
    let palette = fixture("palette.png");
    let t = generate(
        &palette,
        "image/png",
        spec(40, 120, Method::Crop),
        "image/png",
        false,
        &limits(),
    )
    .unwrap();
    let img = decode(&t);
    assert!(
        near(px(&img, 5, 60), [255, 255, 0, 255], 8),
        "{:?}",
        px(&img, 5, 60)
    );
    assert!(
        near(px(&img, 35, 60), [0, 255, 255, 255], 8),
        "{:?}",
        px(&img, 35, 60)
    );
}

#[test]
fn greyscale_jpeg() {
    let thumbs = pregenerate(
        &fixture("grey.jpg"),
        "image/jpeg",
        &default_sizes(),
        &limits(),
    )
    .unwrap();
    let scaled = thumbs.iter().find(|t| t.method == Method::Scale).unwrap();
    assert_eq!(
        (scaled.width, scaled.height, scaled.media_type),
        (300, 200, "image/jpeg")
    );
    let img = decode(scaled);
    assert!(near(px(&img, 10, 10), [0, 0, 0, 255], 12));
    assert!(
        near(px(&img, 295, 150), WHITE, 12),
        "{:?}",
        px(&img, 295, 150)
    );
}

#[test]
fn cmyk_jpeg_keeps_its_colours() {
    let thumbs = pregenerate(
        &fixture("cmyk.jpg"),
        "image/jpeg",
        &default_sizes(),
        &limits(),
    )
    .unwrap();
    let scaled = thumbs.iter().find(|t| t.method == Method::Scale).unwrap();
    let img = decode(scaled);
    assert_eq!(img.dimensions(), (200, 100));
    assert!(near(px(&img, 20, 50), RED, 40), "{:?}", px(&img, 20, 50));
    assert!(near(px(&img, 180, 50), BLUE, 40), "{:?}", px(&img, 180, 50));
}

#[test]
fn synapse_minimal_cmyk_jpeg() {
    let small = hex(SMALL_CMYK_JPEG);
    let crop = generate(
        &small,
        "image/jpeg",
        spec(32, 32, Method::Crop),
        "image/jpeg",
        false,
        &limits(),
    )
    .unwrap();
    assert_eq!((crop.width, crop.height), (32, 32));
    decode(&crop);
}

#[test]
fn png_alpha_is_kept_in_png_thumbnails() {
    let thumbs = pregenerate(
        &fixture("alpha.png"),
        "image/png",
        &default_sizes(),
        &limits(),
    )
    .unwrap();
    let scaled = thumbs.iter().find(|t| t.method == Method::Scale).unwrap();
    assert_eq!(
        (scaled.width, scaled.height, scaled.media_type),
        (200, 150, "image/png")
    );
    let img = decode(scaled);
    assert_eq!(px(&img, 20, 20)[3], 0, "transparent half");
    assert!(near(px(&img, 180, 20), BLUE, 2));
    assert!(
        near(px(&img, 180, 75), [255, 0, 0, 128], 2),
        "half-transparent red band"
    );
}

#[test]
fn webp_alpha_is_flattened_on_white_in_jpeg_thumbnails() {
    let thumbs = pregenerate(
        &fixture("alpha.webp"),
        "image/webp",
        &default_sizes(),
        &limits(),
    )
    .unwrap();
    let scaled = thumbs.iter().find(|t| t.method == Method::Scale).unwrap();
    assert_eq!(scaled.media_type, "image/jpeg");
    let img = decode(scaled);
    assert!(near(px(&img, 20, 20), WHITE, 10), "{:?}", px(&img, 20, 20));
    assert!(near(px(&img, 180, 20), BLUE, 40), "{:?}", px(&img, 180, 20));
}

#[test]
fn palette_png_is_resized_in_rgb() {
    let t = generate(
        &fixture("palette.png"),
        "image/png",
        spec(80, 60, Method::Scale),
        "image/png",
        false,
        &limits(),
    )
    .unwrap();
    let img = decode(&t);
    assert_eq!(img.dimensions(), (80, 60));
    assert!(near(px(&img, 5, 30), RED, 8), "{:?}", px(&img, 5, 30));
    assert!(near(px(&img, 15, 30), GREEN, 8), "{:?}", px(&img, 15, 30));
}

#[test]
fn synapse_small_pngs() {
    // Synapse's SMALL_PNG (1x1 RGBA): crop gives 32x32, scale stays 1x1.
    let small = hex(SMALL_PNG);
    let thumbs = pregenerate(
        &small,
        "image/png",
        &[spec(32, 32, Method::Crop), spec(32, 32, Method::Scale)],
        &limits(),
    )
    .unwrap();
    let got: Vec<_> = thumbs
        .iter()
        .map(|t| (t.width, t.height, t.method))
        .collect();
    assert_eq!(got, [(32, 32, Method::Crop), (1, 1, Method::Scale)]);
    thumbs.iter().for_each(|t| {
        decode(t);
    });
    // Greyscale with a tRNS chunk: alpha survives.
    let t = generate(
        &hex(SMALL_PNG_TRANSPARENT),
        "image/png",
        spec(8, 8, Method::Crop),
        "image/png",
        false,
        &limits(),
    )
    .unwrap();
    assert_eq!(decode(&t).dimensions(), (8, 8));
}

#[test]
fn requested_types() {
    let photo = fixture("photo-exif6.jpg");
    let s = spec(96, 96, Method::Crop);
    for ty in ["image/jpeg", "image/png", "image/webp"] {
        let t = generate(&photo, "image/jpeg", s, ty, false, &limits()).unwrap();
        assert_eq!((t.media_type, t.animated), (ty, false));
        decode(&t);
    }
    let err = generate(&photo, "image/jpeg", s, "image/gif", false, &limits()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    let err = generate(
        &photo,
        "image/jpeg",
        spec(0, 96, Method::Crop),
        "image/png",
        false,
        &limits(),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
}

#[test]
fn the_content_decides_the_decoder_and_the_label_the_output() {
    // A PNG uploaded as image/jpeg: decoded as PNG (as Pillow sniffs), thumbnailed to JPEG.
    let thumbs = pregenerate(
        &fixture("palette.png"),
        "image/jpeg",
        &default_sizes(),
        &limits(),
    )
    .unwrap();
    assert!(thumbs.iter().all(|t| t.media_type == "image/jpeg"));
}

#[test]
fn unsupported_media_types_are_refused() {
    let svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"400\" height=\"400\"/>";
    let err = pregenerate(svg, "image/svg", &default_sizes(), &limits()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    let err = generate(
        svg,
        "image/svg+xml",
        spec(32, 32, Method::Crop),
        "image/png",
        false,
        &limits(),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
}

#[test]
fn method_parsing() {
    assert_eq!("crop".parse::<Method>().unwrap(), Method::Crop);
    assert_eq!("scale".parse::<Method>().unwrap(), Method::Scale);
    assert_eq!(
        "invalid".parse::<Method>().unwrap_err().kind(),
        ErrorKind::Unsupported
    );
    assert_eq!(Method::Scale.to_string(), "scale");
}

/// tests/test_utils/__init__.py in Synapse.
const SMALL_PNG: &str = "89504e470d0a1a0a0000000d4948445200000001000000010806\
    0000001f15c4890000000a49444154789c63000100000500010d0a2db40000000049454e44ae426082";
/// `small_png_with_transparency` of tests/media/test_media_storage.py in Synapse.
const SMALL_PNG_TRANSPARENT: &str = "89504e470d0a1a0a0000000d49484452000000010000000101000\
    00000376ef9240000000274524e5300010194fdae0000000a49444154789c636800000082008177cd72b6\
    0000000049454e44ae426082";
/// `SMALL_CMYK_JPEG` of Synapse (1x1, CMYK, Adobe segment).
const SMALL_CMYK_JPEG: &str = "ffd8ffee000e41646f626500640000000000ffdb004300080606070605\
    080707070909080a0c140d0c0b0b0c1912130f141d1a1f1e1d1a1c1c20242e2720222c231c1c2837292c30\
    313434341f27393d38323c2e333432ffc000140800010001044311004d11005911004b1100ffc4001f0000\
    010501010101010100000000000000000102030405060708090a0bffc400b5100002010303020403050504\
    040000017d01020300041105122131410613516107227114328191a1082342b1c11552d1f0243362728209\
    0a161718191a25262728292a3435363738393a434445464748494a535455565758595a636465666768696a\
    737475767778797a838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9ba\
    c2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9faffda000e04\
    43004d0059004b00003f00f7faf7faf7faf7faffd9";

/// The DCT-shrunk decode plus Lanczos3 looks like a full decode plus Lanczos3: PSNR against
/// `image`'s own pipeline (zune-jpeg, orientation, resize) at each default size's scale.
#[test]
fn shrunk_decoding_keeps_quality() {
    let photo = fixture("photo-exif6.jpg");
    let mut reference = image::load_from_memory(&photo).unwrap();
    reference.apply_orientation(image::metadata::Orientation::Rotate90);
    for (w, h) in [(40, 60), (80, 120), (160, 240), (240, 360)] {
        let t = generate(
            &photo,
            "image/jpeg",
            spec(w, h, Method::Scale),
            "image/png",
            false,
            &limits(),
        )
        .unwrap();
        let ours = decode(&t);
        let theirs = reference
            .resize_exact(w, h, image::imageops::FilterType::Lanczos3)
            .into_rgba8();
        let mse = ours
            .as_raw()
            .iter()
            .zip(theirs.as_raw())
            .map(|(a, b)| f64::from(a.abs_diff(*b)).powi(2))
            .sum::<f64>()
            / ours.as_raw().len() as f64;
        let psnr = 10.0 * (255.0f64 * 255.0 / mse.max(1e-9)).log10();
        assert!(psnr > 32.0, "{w}x{h}: PSNR {psnr:.1} dB");
    }
}
