#![cfg(test)]

use super::*;

const PHOTO: &[u8] = include_bytes!("../../../../tests/fixtures/photo-exif6.jpg");
const CMYK: &[u8] = include_bytes!("../../../../tests/fixtures/cmyk.jpg");
const GREY: &[u8] = include_bytes!("../../../../tests/fixtures/grey.jpg");

#[test]
fn sniffs_by_content() {
    assert_eq!(sniff(PHOTO), Some(Format::Jpeg));
    assert_eq!(
        sniff(include_bytes!("../../../../tests/fixtures/alpha.png")),
        Some(Format::Png)
    );
    assert_eq!(
        sniff(include_bytes!("../../../../tests/fixtures/animated.gif")),
        Some(Format::Gif)
    );
    assert_eq!(
        sniff(include_bytes!("../../../../tests/fixtures/alpha.webp")),
        Some(Format::Webp)
    );
    assert_eq!(sniff(b""), None);
    assert_eq!(sniff(b"<svg xmlns='http://www.w3.org/2000/svg'/>"), None);
    assert_eq!(sniff(b"RIFF\0\0\0\0WAVE"), None);
}

#[test]
fn jpeg_header_of_the_photo() {
    let h = jpeg::Header::parse(PHOTO).unwrap();
    assert_eq!((h.width, h.height, h.scans), (480, 320, 1));
    assert_eq!(h.orientation, Orientation::Rotate90);
    h.check(&Limits::default()).unwrap();
}

#[test]
fn jpeg_header_of_grey_and_cmyk() {
    let grey = jpeg::Header::parse(GREY).unwrap();
    assert_eq!(
        (grey.width, grey.height, grey.orientation),
        (300, 200, Orientation::NoTransforms)
    );
    let cmyk = jpeg::Header::parse(CMYK).unwrap();
    assert_eq!((cmyk.width, cmyk.height), (200, 100));
}

#[test]
fn jpeg_without_scan_data_is_refused() {
    let sos = PHOTO.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
    let err = jpeg::Header::parse(&PHOTO[..sos]).unwrap_err();
    assert!(matches!(err, ImagingError::Undecodable(_)), "{err}");
}

#[test]
fn dct_scale_is_the_smallest_that_covers() {
    assert_eq!(jpeg::numerator((4000, 3000), (320.0, 240.0)), 1);
    assert_eq!(jpeg::numerator((4000, 3000), (800.0, 600.0)), 2);
    assert_eq!(jpeg::numerator((2000, 1500), (800.0, 600.0)), 4);
    assert_eq!(jpeg::numerator((2000, 1500), (1500.0, 1100.0)), 6);
    assert_eq!(jpeg::numerator((100, 100), (400.0, 400.0)), 8);
    // libjpeg rounds up: 1/8 of 7 pixels is 1.
    assert_eq!(jpeg::numerator((7, 7), (1.0, 1.0)), 1);
}

#[test]
fn jpeg_decodes_at_the_scale_asked() {
    let h = jpeg::Header::parse(PHOTO).unwrap();
    for (n, w, h2) in [(1, 60, 40), (3, 180, 120), (4, 240, 160), (8, 480, 320)] {
        let r = jpeg::decode(PHOTO, &h, n, &Limits::default()).unwrap();
        assert_eq!((r.width, r.height), (w, h2), "scale {n}/8");
    }
}

#[test]
fn cmyk_jpeg_decodes_to_rgb_colours() {
    let h = jpeg::Header::parse(CMYK).unwrap();
    let r = jpeg::decode(CMYK, &h, 8, &Limits::default()).unwrap();
    let px = |x: usize, y: usize| {
        let i = (y * r.width as usize + x) * 3;
        [r.data[i], r.data[i + 1], r.data[i + 2]]
    };
    let near = |a: [u8; 3], b: [u8; 3]| a.iter().zip(b).all(|(x, y)| x.abs_diff(y) < 40);
    assert!(
        near(px(20, 50), [255, 0, 0]),
        "left is red: {:?}",
        px(20, 50)
    );
    assert!(
        near(px(180, 50), [0, 0, 255]),
        "right is blue: {:?}",
        px(180, 50)
    );
}

#[test]
fn progressive_coefficients_count_against_the_allocation_limit() {
    // Rewrite the photo's frame marker as progressive (SOF2): the header walk alone decides.
    let mut bytes = PHOTO.to_vec();
    let sof = bytes.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    bytes[sof + 1] = 0xC2;
    let h = jpeg::Header::parse(&bytes).unwrap();
    let tight = Limits {
        max_alloc_bytes: 100_000,
        ..Limits::default()
    };
    assert!(matches!(
        h.check(&tight),
        Err(ImagingError::TooMuchMemory { .. })
    ));
    h.check(&Limits::default()).unwrap();
}

#[test]
fn too_many_scans_are_refused() {
    let sos = PHOTO.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
    let mut bytes = PHOTO[..sos].to_vec();
    for _ in 0..=jpeg::MAX_SCANS {
        bytes.extend_from_slice(&[0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3F, 0x00]);
        bytes.extend_from_slice(&[0x12, 0x34, 0xFF, 0x00, 0x56]);
    }
    bytes.extend_from_slice(&[0xFF, 0xD9]);
    let h = jpeg::Header::parse(&bytes).unwrap();
    assert_eq!(h.scans, jpeg::MAX_SCANS + 1);
    assert!(matches!(
        h.check(&Limits::default()),
        Err(ImagingError::TooManyScans { .. })
    ));
}
