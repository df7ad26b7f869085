//! Hostile and broken inputs: each gives a clean error or a bounded result, never a panic.

use mxcd_imaging::{
    ANIMATED_TYPE, ErrorKind, ImagingError, Method, Thumbnail, generate, pregenerate,
};

use crate::support::*;

fn both(bytes: &[u8], media_type: &str) -> [Result<Vec<Thumbnail>, ImagingError>; 2] {
    let pre = pregenerate(bytes, media_type, &default_sizes(), &limits());
    let dynamic = generate(
        bytes,
        media_type,
        spec(96, 96, Method::Crop),
        "image/png",
        false,
        &limits(),
    )
    .map(|t| vec![t]);
    [pre, dynamic]
}

fn assert_error(bytes: &[u8], media_type: &str, kind: ErrorKind) {
    for result in both(bytes, media_type) {
        let err = result.expect_err("an error");
        assert_eq!(err.kind(), kind, "{err}");
    }
}

/// A PNG chunk with its CRC.
fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut c = (data.len() as u32).to_be_bytes().to_vec();
    c.extend_from_slice(kind);
    c.extend_from_slice(data);
    c.extend_from_slice(&crc32(&c[4..]).to_be_bytes());
    c
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
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

/// A PNG that declares `width`×`height` RGB pixels over a few bytes of (short) image data.
pub(crate) fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(chunk(b"IHDR", &ihdr));
    png.extend(chunk(
        b"IDAT",
        &[0x78, 0x9c, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01],
    ));
    png.extend(chunk(b"IEND", &[]));
    png
}

#[test]
fn png_declaring_100000_by_100000() {
    let png = png_claiming(100_000, 100_000);
    assert!(png.len() < 100, "{} bytes", png.len());
    assert_error(&png, "image/png", ErrorKind::TooLarge);
}

#[test]
fn png_declaring_a_big_but_allowed_size_fails_cleanly() {
    // 4000x4000 is under the pixel limit; the data runs out at once.
    let png = png_claiming(4000, 4000);
    for result in both(&png, "image/png") {
        assert_eq!(result.unwrap_err().kind(), ErrorKind::Undecodable);
    }
}

#[test]
fn truncated_jpeg() {
    let photo = fixture("photo-exif6.jpg");
    for keep in [2, 20, 200, photo.len() / 3, photo.len() - 10] {
        for result in both(&photo[..keep], "image/jpeg") {
            match result {
                // libjpeg fills what is missing with grey, as browsers show a partial image.
                Ok(thumbs) => thumbs.iter().for_each(|t| {
                    decode(t);
                }),
                Err(e) => assert_eq!(e.kind(), ErrorKind::Undecodable, "{keep} bytes: {e}"),
            }
        }
    }
}

#[test]
fn jpeg_claiming_huge_dimensions() {
    let photo = fixture("photo-exif6.jpg");
    let sof = photo.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    let with_size = |w: u16, h: u16| {
        let mut b = photo.clone();
        b[sof + 5..sof + 7].copy_from_slice(&h.to_be_bytes());
        b[sof + 7..sof + 9].copy_from_slice(&w.to_be_bytes());
        b
    };
    assert_error(
        &with_size(65_000, 65_000),
        "image/jpeg",
        ErrorKind::TooLarge,
    );
    // Under the limit (30 M pixels) but with the data of a 480x320 image: a bounded result or an
    // error, decoded at 1/8 scale for these sizes.
    for result in both(&with_size(6000, 5000), "image/jpeg") {
        if let Err(e) = result {
            assert_eq!(e.kind(), ErrorKind::Undecodable, "{e}");
        }
    }
}

#[test]
fn jpeg_that_libjpeg_rejects() {
    // Huffman table counts summing past 256: libjpeg's "bogus Huffman table" fatal error, which
    // unwinds out of libjpeg and must come back as an error.
    let mut photo = fixture("photo-exif6.jpg");
    let dht = photo.windows(2).position(|w| w == [0xFF, 0xC4]).unwrap();
    photo[dht + 5..dht + 21].fill(0xFF);
    assert_error(&photo, "image/jpeg", ErrorKind::Undecodable);
}

#[test]
fn zero_bytes() {
    assert_error(b"", "image/png", ErrorKind::Undecodable);
    assert_error(b"", "image/gif", ErrorKind::Undecodable);
}

#[test]
fn random_bytes_labelled_png() {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let bytes: Vec<u8> = (0..4096)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    assert_error(&bytes, "image/png", ErrorKind::Undecodable);
    // With a real PNG signature in front, the decoder itself has to refuse it.
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend_from_slice(&bytes);
    assert_error(&png, "image/png", ErrorKind::Undecodable);
}

#[test]
fn corrupt_fixtures_fail_cleanly() {
    for (name, ty) in [
        ("alpha.png", "image/png"),
        ("animated.gif", "image/gif"),
        ("animated.webp", "image/webp"),
        ("palette.png", "image/png"),
    ] {
        let mut bytes = fixture(name);
        let len = bytes.len();
        for b in &mut bytes[len / 3..len / 3 + 16.min(len / 3)] {
            *b = !*b;
        }
        for result in both(&bytes, ty) {
            if let Err(e) = result {
                assert_ne!(e.kind(), ErrorKind::Internal, "{name}: {e}");
            }
        }
        for keep in [len / 2, len - 4] {
            for result in both(&bytes[..keep], ty) {
                if let Err(e) = result {
                    assert_ne!(e.kind(), ErrorKind::Internal, "{name} cut at {keep}: {e}");
                }
            }
        }
    }
}

/// A GIF89a of `frames` 1x1 frames on a `width`×`height` canvas, each shown 20 ms: small on disk,
/// but every frame is a full canvas once composed.
pub(crate) fn gif_with_frames(width: u16, height: u16, frames: usize) -> Vec<u8> {
    let mut gif = b"GIF89a".to_vec();
    gif.extend_from_slice(&width.to_le_bytes());
    gif.extend_from_slice(&height.to_le_bytes());
    gif.extend_from_slice(&[0x81, 0, 0]); // global colour table of 4 entries
    gif.extend_from_slice(&[255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255]);
    gif.extend_from_slice(b"\x21\xFF\x0BNETSCAPE2.0\x03\x01\x00\x00\x00");
    for i in 0..frames {
        gif.extend_from_slice(&[0x21, 0xF9, 0x04, 0x00, 2, 0, 0, 0]);
        let x = (i % usize::from(width)) as u16;
        gif.push(0x2C);
        gif.extend_from_slice(&x.to_le_bytes());
        gif.extend_from_slice(&[0, 0, 1, 0, 1, 0, 0]);
        // LZW, minimum code size 2: clear, one index, end. The index flips on every pass over
        // the top row, so every frame differs from the one before (libwebp merges repeats).
        let code = if (i / usize::from(width)) % 2 == 0 {
            0x44
        } else {
            0x4C
        };
        gif.extend_from_slice(&[0x02, 0x02, code, 0x01, 0x00]);
    }
    gif.push(0x3B);
    gif
}

#[test]
fn gif_with_10000_frames_is_cut_at_the_frame_limit() {
    let gif = gif_with_frames(64, 64, 10_000);
    assert!(gif.len() < 250_000);
    let thumbs = pregenerate(&gif, "image/gif", &default_sizes(), &limits()).unwrap();
    let animated: Vec<_> = thumbs.iter().filter(|t| t.animated).collect();
    assert_eq!(animated.len(), 3);
    // libwebp merges frames that look the same once shrunk, adding up their durations: the
    // total shows how many source frames went in (20 ms each).
    let shown_ms = |t: &Thumbnail| frames(t).iter().map(|f| f.1).sum::<u32>();
    for t in animated {
        assert_eq!(
            shown_ms(t),
            limits().max_frames * 20,
            "{}x{}",
            t.width,
            t.height
        );
    }
    let t = generate(
        &gif,
        "image/gif",
        spec(64, 64, Method::Crop),
        ANIMATED_TYPE,
        true,
        &limits(),
    )
    .unwrap();
    assert_eq!(shown_ms(&t), limits().max_frames * 20);
}

#[test]
fn gif_frame_larger_than_its_canvas() {
    // Canvas 10x10, frame descriptor 60000x60000: refused by the canvas-sized decoder limits.
    let mut gif = gif_with_frames(10, 10, 2);
    let desc = gif.iter().rposition(|&b| b == 0x2C).unwrap();
    gif[desc + 5..desc + 9].copy_from_slice(&[0x60, 0xEA, 0x60, 0xEA]);
    let t = generate(
        &gif,
        "image/gif",
        spec(8, 8, Method::Crop),
        ANIMATED_TYPE,
        true,
        &limits(),
    );
    match t {
        Ok(t) => assert!(!t.animated, "the broken second frame leaves a still"),
        Err(e) => assert_ne!(e.kind(), ErrorKind::Internal, "{e}"),
    }
}

#[test]
fn requests_for_huge_thumbnails_are_refused() {
    let photo = fixture("photo-exif6.jpg");
    let err = generate(
        &photo,
        "image/jpeg",
        spec(100_000, 100_000, Method::Crop),
        "image/png",
        false,
        &limits(),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TooLarge);
    // A scale request never exceeds the source, whatever it asks.
    let t = generate(
        &photo,
        "image/jpeg",
        spec(100_000, 100_000, Method::Scale),
        "image/png",
        false,
        &limits(),
    )
    .unwrap();
    assert_eq!((t.width, t.height), (320, 480));
}
