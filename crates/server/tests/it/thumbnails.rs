//! Thumbnails over HTTP (reference §4.7 and the thumbnail lines of Part 5): pre-generated sizes
//! and Synapse's selection, dynamic thumbnails, animation, regeneration, errors, hostile images.

use bytes::Bytes;
use image::{AnimationDecoder as _, GenericImageView as _, ImageFormat};
use reqwest::StatusCode;

use crate::{
    harness::{Backend, Storage, TestServer},
    media::{fetch, server, upload},
};

crate::storage_tests!(
    pregenerated_sizes_and_selection,
    missing_thumbnail_is_made_again
);
crate::backend_tests!(
    every_fixture_gets_thumbnails,
    unsupported_and_hostile_media,
    method_and_configured_sizes,
    authenticated_and_legacy,
    animated_thumbnails,
    dynamic_thumbnails,
    quarantined_media_has_no_thumbnails
);

const PHOTO: &[u8] = include_bytes!("../../../../tests/fixtures/photo-exif6.jpg");
const ANIMATED_GIF: &[u8] = include_bytes!("../../../../tests/fixtures/animated.gif");

fn fixture(name: &str) -> &'static [u8] {
    match name {
        "alpha.png" => include_bytes!("../../../../tests/fixtures/alpha.png"),
        "alpha.webp" => include_bytes!("../../../../tests/fixtures/alpha.webp"),
        "palette.png" => include_bytes!("../../../../tests/fixtures/palette.png"),
        "animated.webp" => include_bytes!("../../../../tests/fixtures/animated.webp"),
        "animated.png" => include_bytes!("../../../../tests/fixtures/animated.png"),
        "grey.jpg" => include_bytes!("../../../../tests/fixtures/grey.jpg"),
        "cmyk.jpg" => include_bytes!("../../../../tests/fixtures/cmyk.jpg"),
        other => panic!("no fixture {other}"),
    }
}

/// A thumbnail request: status, content type and bytes.
async fn thumb(s: &TestServer, tok: &str, id: &str, query: &str) -> (StatusCode, String, Bytes) {
    let path = format!("/_matrix/client/v1/media/thumbnail/test.local/{id}?{query}");
    let (status, headers, body) = fetch(s, &path, Some(tok), &[]).await;
    let ctype = headers
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, ctype, body)
}

/// Decodes a still thumbnail, checking its format matches its content type.
fn decode(ctype: &str, body: &[u8]) -> image::DynamicImage {
    let format = match ctype {
        "image/jpeg" => ImageFormat::Jpeg,
        "image/png" => ImageFormat::Png,
        "image/webp" => ImageFormat::WebP,
        other => panic!("unexpected thumbnail type {other}"),
    };
    assert_eq!(image::guess_format(body).unwrap(), format, "{ctype}");
    image::load_from_memory_with_format(body, format).unwrap()
}

fn rgb(img: &image::DynamicImage, x: u32, y: u32) -> [u8; 3] {
    let p = img.get_pixel(x, y).0;
    [p[0], p[1], p[2]]
}

fn near(a: [u8; 3], b: [u8; 3]) -> bool {
    a.iter().zip(b).all(|(x, y)| x.abs_diff(y) < 60)
}

async fn pregenerated_sizes_and_selection(b: Backend, st: Storage) {
    let s = server(b, st, |_| {}).await;
    let (_, tok) = s.register("u", "pw", false).await;
    let id = upload(&s, &tok, PHOTO, "image/jpeg", "?filename=p.jpg").await;
    // Displayed 320×480 (EXIF 6). Synapse's sizes: crops exact; 320×240 scale → 160×240;
    // 640×480 and 800×600 scale both give the whole image, 320×480, kept once.
    let rows = s
        .sql_i64("SELECT COUNT(*) FROM thumbnails WHERE media_type = 'image/jpeg'")
        .await;
    assert_eq!(rows, 4);

    let (status, ctype, body) = thumb(&s, &tok, &id, "width=32&height=32&method=crop").await;
    assert_eq!((status, ctype.as_str()), (StatusCode::OK, "image/jpeg"));
    assert_eq!(decode(&ctype, &body).dimensions(), (32, 32));

    let (status, ctype, body) = thumb(&s, &tok, &id, "width=300&height=200").await;
    assert_eq!(status, StatusCode::OK);
    let img = decode(&ctype, &body);
    assert_eq!(img.dimensions(), (160, 240), "scale is the default method");
    // Orientation applied: red at the displayed top-right, green at the bottom-right.
    assert!(
        near(rgb(&img, 150, 10), [255, 0, 0]),
        "{:?}",
        rgb(&img, 150, 10)
    );
    assert!(
        near(rgb(&img, 150, 230), [0, 255, 0]),
        "{:?}",
        rgb(&img, 150, 230)
    );

    // Larger than anything stored: the largest fitting candidate, never upscaled.
    let (_, ctype, body) = thumb(&s, &tok, &id, "width=2000&height=2000&method=scale").await;
    assert_eq!(decode(&ctype, &body).dimensions(), (320, 480));
    // Between sizes, crop picks the nearest crop that covers the request.
    let (_, ctype, body) = thumb(&s, &tok, &id, "width=64&height=64&method=crop").await;
    assert_eq!(decode(&ctype, &body).dimensions(), (96, 96));

    // Thumbnail headers: file headers, CORP, no CSP.
    let path = format!("/_matrix/media/v3/thumbnail/test.local/{id}?width=32&height=32");
    let uid = s.sql_i64("SELECT COUNT(*) FROM media").await;
    assert_eq!(uid, 1);
    let (_, headers, _) = fetch(
        &s,
        &format!("/_matrix/client/v1/media/thumbnail/test.local/{id}?width=32&height=32"),
        Some(&tok),
        &[],
    )
    .await;
    assert_eq!(headers["cross-origin-resource-policy"], "cross-origin");
    assert_eq!(headers["content-disposition"], "inline");
    assert_eq!(headers["etag"], "1");
    assert_eq!(
        headers["x-robots-tag"],
        "noindex, nofollow, noarchive, noimageindex"
    );
    assert!(headers.get("content-security-policy").is_none());
    assert_eq!(headers["access-control-allow-origin"], "*");
    let (status, _, _) = fetch(&s, &path, None, &[]).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "authenticated media: legacy is 404"
    );
    let (status, _, body) = fetch(
        &s,
        &format!("/_matrix/client/v1/media/thumbnail/test.local/{id}?width=32&height=32"),
        Some(&tok),
        &[("if-none-match", "1")],
    )
    .await;
    assert_eq!((status, body.len()), (StatusCode::NOT_MODIFIED, 0));

    // Identical bytes share the thumbnails.
    upload(&s, &tok, PHOTO, "image/jpeg", "").await;
    assert_eq!(s.sql_i64("SELECT COUNT(*) FROM thumbnails").await, 4);
}

async fn every_fixture_gets_thumbnails(b: Backend) {
    let s = TestServer::start(b).await;
    let (_, tok) = s.register("u", "pw", false).await;
    // (file, media type, expected thumbnail type, a probe inside the 96×96 crop)
    type Case = (
        &'static str,
        &'static str,
        &'static str,
        (u32, u32),
        [u8; 3],
    );
    let cases: [Case; 6] = [
        // Alpha flattened for JPEG output; the right half is opaque blue.
        (
            "alpha.webp",
            "image/webp",
            "image/jpeg",
            (90, 10),
            [0, 0, 255],
        ),
        ("alpha.png", "image/png", "image/png", (90, 10), [0, 0, 255]),
        // Palette bands: the centre crop of 160×120 starts at x=20 (green band), at 96/120 scale.
        (
            "palette.png",
            "image/png",
            "image/png",
            (2, 48),
            [0, 255, 0],
        ),
        // Greyscale: the black square is at the top-left; the crop keeps x 50..250 of 300.
        (
            "grey.jpg",
            "image/jpeg",
            "image/jpeg",
            (94, 94),
            [255, 255, 255],
        ),
        // CMYK: left half red, right half blue.
        ("cmyk.jpg", "image/jpeg", "image/jpeg", (5, 48), [255, 0, 0]),
        (
            "animated.png",
            "image/png",
            "image/png",
            (5, 5),
            [255, 255, 255],
        ),
    ];
    for (file, mtype, ttype, (x, y), colour) in cases {
        let id = upload(&s, &tok, fixture(file), mtype, "").await;
        let (status, ctype, body) = thumb(&s, &tok, &id, "width=96&height=96&method=crop").await;
        assert_eq!((status, ctype.as_str()), (StatusCode::OK, ttype), "{file}");
        let img = decode(&ctype, &body);
        assert_eq!(img.dimensions(), (96, 96), "{file}");
        assert!(
            near(rgb(&img, x, y), colour),
            "{file}: {:?}",
            rgb(&img, x, y)
        );
    }
}

/// The answer for media without thumbnails, naming the request path.
fn no_thumbnails(path: &str) -> String {
    format!(
        "Cannot find any thumbnails for the requested media ('{path}'). This might mean the media \
         is not a supported_media_format=(image/jpeg, image/jpg, image/webp, image/gif, \
         image/png) or that thumbnailing failed for some other reason. (Dynamic thumbnails are \
         disabled on this server.)"
    )
}

async fn unsupported_and_hostile_media(b: Backend) {
    let s = TestServer::start(b).await;
    let (_, tok) = s.register("u", "pw", false).await;
    // A PNG of 66 bytes that declares 100000×100000, a truncated JPEG, an empty GIF, random
    // bytes labelled PNG, and types Synapse never thumbnails.
    let mut huge_png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    huge_png.extend_from_slice(&100_000u32.to_be_bytes());
    huge_png.extend_from_slice(&100_000u32.to_be_bytes());
    huge_png.extend_from_slice(&[8, 6, 0, 0, 0, 0, 0, 0, 0]);
    let huge_png: &'static [u8] = Box::leak(huge_png.into_boxed_slice());
    let random: &'static [u8] = Box::leak((0..4096u32).map(|i| (i * 7919 % 251) as u8).collect());
    let cases: [(&[u8], &str); 6] = [
        (huge_png, "image/png"),
        (&PHOTO[..PHOTO.len() / 3], "image/jpeg"),
        (b"", "image/gif"),
        (random, "image/png"),
        (
            b"<svg xmlns='http://www.w3.org/2000/svg'/>",
            "image/svg+xml",
        ),
        (b"plain text", "text/plain"),
    ];
    for (data, mtype) in cases {
        let id = upload(&s, &tok, data, mtype, "").await;
        let path = format!("/_matrix/client/v1/media/thumbnail/test.local/{id}");
        let r = s
            .get(&format!("{path}?width=32&height=32"), Some(&tok))
            .await;
        if mtype == "image/jpeg" {
            // libjpeg decodes what there is of a truncated JPEG (the rest is grey).
            assert_eq!(r.status.as_u16(), 200, "{mtype}");
            continue;
        }
        assert_eq!(r.err(400, "M_UNKNOWN"), no_thumbnails(&path), "{mtype}");
    }
    // A GIF of 10,000 frames: thumbnails within the frame limit, promptly.
    let gif: &'static [u8] = Box::leak(gif_with_frames(64, 64, 10_000).into_boxed_slice());
    let started = std::time::Instant::now();
    let id = upload(&s, &tok, gif, "image/gif", "").await;
    let (status, ctype, body) = thumb(
        &s,
        &tok,
        &id,
        "width=32&height=32&method=crop&animated=true",
    )
    .await;
    assert_eq!((status, ctype.as_str()), (StatusCode::OK, "image/webp"));
    let frames = image::codecs::webp::WebPDecoder::new(std::io::Cursor::new(&body[..]))
        .unwrap()
        .into_frames()
        .collect_frames()
        .unwrap();
    assert!((2..=250).contains(&frames.len()), "{} frames", frames.len());
    eprintln!(
        "10,000-frame GIF: upload and animated thumbnail in {:?}",
        started.elapsed()
    );
    // Still serving.
    s.get("/_matrix/client/versions", None).await.ok();
}

/// A GIF89a of `frames` 1×1 frames on a `width`×`height` canvas, each different from the one
/// before (as in the imaging crate's hostile tests): tiny on disk, a full canvas per frame.
fn gif_with_frames(width: u16, height: u16, frames: usize) -> Vec<u8> {
    let mut gif = b"GIF89a".to_vec();
    gif.extend_from_slice(&width.to_le_bytes());
    gif.extend_from_slice(&height.to_le_bytes());
    gif.extend_from_slice(&[0x81, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255]);
    gif.extend_from_slice(b"\x21\xFF\x0BNETSCAPE2.0\x03\x01\x00\x00\x00");
    for i in 0..frames {
        let x = (i % usize::from(width)) as u16;
        gif.extend_from_slice(&[0x21, 0xF9, 0x04, 0x00, 2, 0, 0, 0, 0x2C]);
        gif.extend_from_slice(&x.to_le_bytes());
        gif.extend_from_slice(&[0, 0, 1, 0, 1, 0, 0, 0x02, 0x02]);
        // LZW: clear, one index, end; the index flips on each pass over the row.
        let flip = (i / usize::from(width)) % 2 == 1;
        gif.extend_from_slice(&[if flip { 0x4C } else { 0x44 }, 0x01, 0x00]);
    }
    gif.push(0x3B);
    gif
}

async fn method_and_configured_sizes(b: Backend) {
    let s = TestServer::start(b.clone()).await;
    let (_, tok) = s.register("u", "pw", false).await;
    let id = upload(&s, &tok, PHOTO, "image/jpeg", "").await;
    let path = format!("/_matrix/client/v1/media/thumbnail/test.local/{id}");
    let r = s
        .get(
            &format!("{path}?width=32&height=32&method=invalid"),
            Some(&tok),
        )
        .await;
    assert_eq!(r.err(404, "M_NOT_FOUND"), format!("Not found '{path}'"));
    // Method is matched case-insensitively.
    let (status, _, _) = thumb(&s, &tok, &id, "width=32&height=32&method=CROP").await;
    assert_eq!(status, StatusCode::OK);
    // Parameters, in Synapse's order and words.
    let r = s.get(&format!("{path}?height=32"), Some(&tok)).await;
    assert_eq!(
        r.err(400, "M_MISSING_PARAM"),
        "Missing required integer query parameter width"
    );
    let r = s
        .get(&format!("{path}?width=-1&height=32"), Some(&tok))
        .await;
    r.err(400, "M_INVALID_PARAM");
    let r = s
        .get(&format!("{path}?width=1&height=1&animated=yes"), Some(&tok))
        .await;
    r.err(400, "M_INVALID_PARAM");

    let only = |method: mxcd_server::config::ThumbnailMethod| {
        move |c: &mut mxcd_server::Config| {
            c.thumbnail_sizes = vec![mxcd_server::config::ThumbnailSize {
                width: 64,
                height: 64,
                method,
            }]
        }
    };
    use mxcd_server::config::ThumbnailMethod::{Crop, Scale};
    for (configured, asked) in [(Scale, "crop"), (Crop, "scale")] {
        let s = TestServer::start_with(b.clone(), only(configured)).await;
        let (_, tok) = s.register("u", "pw", false).await;
        let id = upload(&s, &tok, PHOTO, "image/jpeg", "").await;
        let path = format!("/_matrix/client/v1/media/thumbnail/test.local/{id}");
        let r = s
            .get(
                &format!("{path}?width=64&height=64&method={asked}"),
                Some(&tok),
            )
            .await;
        assert_eq!(r.err(404, "M_NOT_FOUND"), format!("Not found '{path}'"));
    }
}

async fn missing_thumbnail_is_made_again(b: Backend, st: Storage) {
    let s = server(b, st, |_| {}).await;
    let (_, tok) = s.register("u", "pw", false).await;
    let id = upload(&s, &tok, PHOTO, "image/jpeg", "").await;
    let (_, ctype, first) = thumb(&s, &tok, &id, "width=96&height=96&method=crop").await;
    // Remove every thumbnail object from the store, as an operator's accident would.
    let store = s.blob_store().await;
    for key in s
        .sql_strings("SELECT b.storage_key FROM thumbnails t JOIN blobs b ON b.sha256 = t.sha256")
        .await
    {
        store
            .delete(&mxcd_blob::BlobKey::parse(&key).unwrap())
            .await
            .unwrap();
    }
    let (status, ctype2, again) = thumb(&s, &tok, &id, "width=96&height=96&method=crop").await;
    assert_eq!((status, &ctype2), (StatusCode::OK, &ctype));
    assert_eq!(decode(&ctype2, &again).dimensions(), (96, 96));
    assert_eq!(decode(&ctype, &first).dimensions(), (96, 96));
    // The record points at stored bytes again: the next request serves them.
    let (_, _, third) = thumb(&s, &tok, &id, "width=96&height=96&method=crop").await;
    assert!(third == again, "served from the store");
    let keys = s
        .sql_strings("SELECT b.storage_key FROM thumbnails t JOIN blobs b ON b.sha256 = t.sha256 WHERE t.width = 96")
        .await;
    assert!(
        store
            .size(&mxcd_blob::BlobKey::parse(&keys[0]).unwrap())
            .await
            .is_ok()
    );
}

async fn authenticated_and_legacy(b: Backend) {
    let s = TestServer::start_with(b, |c| c.enable_authenticated_media = false).await;
    let (_, tok) = s.register("u", "pw", false).await;
    let id = upload(&s, &tok, PHOTO, "image/jpeg", "").await;
    let q = "width=32&height=32&method=crop";
    for path in [
        format!("/_matrix/client/v1/media/thumbnail/test.local/{id}?{q}"),
        format!("/_matrix/media/v3/thumbnail/test.local/{id}?{q}"),
        format!("/_matrix/media/r0/thumbnail/test.local/{id}?{q}"),
    ] {
        let token = path.contains("/client/").then_some(tok.as_str());
        let (status, headers, _) = fetch(&s, &path, token, &[]).await;
        assert_eq!(
            (status, &headers["content-type"]),
            (StatusCode::OK, &"image/jpeg".parse().unwrap()),
            "{path}"
        );
    }
    // The authenticated endpoint needs a token; guests are allowed.
    let r = s
        .get(
            &format!("/_matrix/client/v1/media/thumbnail/test.local/{id}?{q}"),
            None,
        )
        .await;
    r.err(401, "M_MISSING_TOKEN");
    let (_, guest) = s.register("visitor", "pw", false).await;
    s.sql("UPDATE users SET is_guest = TRUE WHERE user_id = '@visitor:test.local'")
        .await;
    let (status, _, _) = thumb(&s, &guest, &id, q).await;
    assert_eq!(status, StatusCode::OK, "guests may fetch thumbnails");
    // Other servers' media is fetched over federation (see federation.rs); the legacy
    // endpoint with allow_remote=false only serves what is cached.
    let r = s
        .get(
            &format!("/_matrix/media/v3/thumbnail/elsewhere.org/{id}?{q}&allow_remote=false"),
            None,
        )
        .await;
    r.err(404, "M_NOT_FOUND");
}

async fn animated_thumbnails(b: Backend) {
    let s = TestServer::start(b).await;
    let (_, tok) = s.register("u", "pw", false).await;
    let id = upload(&s, &tok, ANIMATED_GIF, "image/gif", "").await;
    let (status, ctype, body) = thumb(
        &s,
        &tok,
        &id,
        "width=96&height=96&method=scale&animated=true",
    )
    .await;
    assert_eq!((status, ctype.as_str()), (StatusCode::OK, "image/webp"));
    let frames = image::codecs::webp::WebPDecoder::new(std::io::Cursor::new(&body[..]))
        .unwrap()
        .into_frames()
        .collect_frames()
        .unwrap();
    assert!(frames.len() > 1, "animated: {} frames", frames.len());
    // 120×90 is smaller than every configured scale size: the whole image, never upscaled.
    assert_eq!(frames[0].buffer().dimensions(), (120, 90));
    // Without animated=true: a still PNG (GIF sources get PNG thumbnails).
    let (_, ctype, body) = thumb(&s, &tok, &id, "width=96&height=96&method=scale").await;
    assert_eq!(ctype, "image/png");
    assert_eq!(decode(&ctype, &body).dimensions(), (120, 90));
    // Crops are exact, animated too.
    let (_, ctype, body) = thumb(
        &s,
        &tok,
        &id,
        "width=32&height=32&method=crop&animated=true",
    )
    .await;
    assert_eq!(ctype, "image/webp");
    let frames = image::codecs::webp::WebPDecoder::new(std::io::Cursor::new(&body[..]))
        .unwrap()
        .into_frames()
        .collect_frames()
        .unwrap();
    assert!(frames.len() > 1);
    assert_eq!(frames[0].buffer().dimensions(), (32, 32));
    // A still source asked for animation gets its still thumbnail.
    let still = upload(&s, &tok, PHOTO, "image/jpeg", "").await;
    let (status, ctype, _) = thumb(
        &s,
        &tok,
        &still,
        "width=96&height=96&method=crop&animated=true",
    )
    .await;
    assert_eq!((status, ctype.as_str()), (StatusCode::OK, "image/jpeg"));
}

async fn dynamic_thumbnails(b: Backend) {
    let s = TestServer::start_with(b, |c| c.dynamic_thumbnails = true).await;
    let (_, tok) = s.register("u", "pw", false).await;
    let id = upload(&s, &tok, PHOTO, "image/jpeg", "").await;
    let before = s.sql_i64("SELECT COUNT(*) FROM thumbnails").await;
    let (status, ctype, body) = thumb(&s, &tok, &id, "width=50&height=70&method=crop").await;
    assert_eq!((status, ctype.as_str()), (StatusCode::OK, "image/png"));
    assert_eq!(decode(&ctype, &body).dimensions(), (50, 70));
    let (_, _, again) = thumb(&s, &tok, &id, "width=50&height=70&method=crop").await;
    assert_eq!(again, body);
    // Kept under the requested size, once.
    assert_eq!(
        s.sql_i64("SELECT COUNT(*) FROM thumbnails").await,
        before + 1
    );
    // Scale keeps the aspect ratio (rounding down, as Synapse); the record is keyed by the
    // request.
    let (_, ctype, body) = thumb(&s, &tok, &id, "width=100&height=100").await;
    assert_eq!(decode(&ctype, &body).dimensions(), (66, 100));
    assert_eq!(
        s.sql_i64("SELECT COUNT(*) FROM thumbnails WHERE width = 100 AND height = 100")
            .await,
        1
    );
    let path = format!("/_matrix/client/v1/media/thumbnail/test.local/{id}");
    for q in ["width=50&height=50&method=invalid", "width=0&height=0"] {
        let r = s.get(&format!("{path}?{q}"), Some(&tok)).await;
        assert_eq!(
            r.err(400, "M_UNKNOWN"),
            "Failed to generate thumbnail.",
            "{q}"
        );
    }
    let text = upload(&s, &tok, b"not an image", "text/plain", "").await;
    let r = s
        .get(
            &format!("/_matrix/client/v1/media/thumbnail/test.local/{text}?width=9&height=9"),
            Some(&tok),
        )
        .await;
    assert_eq!(r.err(400, "M_UNKNOWN"), "Failed to generate thumbnail.");
}

async fn quarantined_media_has_no_thumbnails(b: Backend) {
    let s = TestServer::start(b).await;
    let (_, tok) = s.register("u", "pw", false).await;
    let id = upload(&s, &tok, PHOTO, "image/jpeg", "").await;
    // (Quarantine through the admin API arrives with that API; the row is what counts.)
    s.sql("UPDATE media SET quarantined_by = '@admin:test.local'")
        .await;
    let path = format!("/_matrix/client/v1/media/thumbnail/test.local/{id}");
    let r = s
        .get(&format!("{path}?width=32&height=32"), Some(&tok))
        .await;
    assert_eq!(r.err(404, "M_NOT_FOUND"), format!("Not found '{path}'"));
}
