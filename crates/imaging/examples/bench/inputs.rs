//! Benchmark inputs, made in memory.

use image::codecs::gif::{GifEncoder, Repeat};
use image::{Delay, Frame, RgbaImage};

/// Smooth gradients, soft discs and mild noise at JPEG quality 80: compresses like a photograph
/// (about 160 KB at 2000x1500, the figure).
pub(crate) fn photo_jpeg(w: u32, h: u32, progressive: bool) -> Vec<u8> {
    let mut rnd = xorshift(0x9E37_79B9 ^ u64::from(w));
    let discs: Vec<(f32, f32, f32, [f32; 3])> = (0..14)
        .map(|i| {
            let r = rnd() as u32;
            let colour = [(r >> 3) as u8, (r >> 11) as u8, (r >> 19) as u8].map(f32::from);
            let radius = w as f32 * (0.03 + i as f32 * 0.008);
            ((r % w) as f32, ((r >> 7) % h) as f32, radius, colour)
        })
        .collect();
    let mut rgb = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..h {
        for x in 0..w {
            let (fx, fy) = (x as f32 / w as f32, y as f32 / h as f32);
            let mut p = [
                120.0 + 80.0 * (fx * 3.1).sin() * (fy * 2.3).cos(),
                110.0 + 70.0 * (fy * 4.7 + fx).sin(),
                100.0 + 90.0 * ((fx + fy) * 2.0).cos(),
            ];
            for (cx, cy, r, c) in &discs {
                let d = ((x as f32 - cx).powi(2) + (y as f32 - cy).powi(2)).sqrt();
                if d < *r {
                    let t = 0.6 * d / r;
                    for k in 0..3 {
                        p[k] = c[k] * (1.0 - t) + p[k] * t;
                    }
                }
            }
            let noise = (rnd() % 7) as f32 - 3.0;
            rgb.extend(p.map(|v| (v + noise).clamp(0.0, 255.0) as u8));
        }
    }
    let mut out = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, 80);
    encoder.set_progressive(progressive);
    encoder
        .encode(&rgb, w as u16, h as u16, jpeg_encoder::ColorType::Rgb)
        .unwrap();
    out
}

/// Diagonal stripes moving every frame, or (`noise`) random pixels; 40 ms frames.
pub(crate) fn animated_gif(w: u32, h: u32, count: u32, noise: bool) -> Vec<u8> {
    let mut rnd = xorshift(7);
    let mut out = Vec::new();
    {
        let mut enc = GifEncoder::new_with_speed(&mut out, 30);
        enc.set_repeat(Repeat::Infinite).unwrap();
        for i in 0..count {
            let img = RgbaImage::from_fn(w, h, |x, y| {
                if noise {
                    let r = rnd();
                    return image::Rgba([r as u8, (r >> 8) as u8, (r >> 16) as u8, 255]);
                }
                let shift = (x + y + i * 7) % 256;
                image::Rgba([shift as u8, (x * 255 / w) as u8, (y * 255 / h) as u8, 255])
            });
            let delay = Delay::from_numer_denom_ms(40, 1);
            enc.encode_frame(Frame::from_parts(img, 0, 0, delay))
                .unwrap();
        }
    }
    out
}

pub(crate) fn frame_count(webp: &[u8]) -> usize {
    let decoder = image::codecs::webp::WebPDecoder::new(std::io::Cursor::new(webp)).unwrap();
    image::AnimationDecoder::into_frames(decoder).count()
}

/// The hostile inputs of the tests (crates/imaging/tests/it/hostile.rs), with their labels.
pub(crate) fn hostile_inputs() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let photo_path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/photo-exif6.jpg"
    );
    let photo = std::fs::read(photo_path).unwrap();
    let mut rnd = xorshift(0x2545_F491_4F6C_DD1D);
    vec![
        (
            "PNG declaring 100000x100000",
            png_claiming(100_000, 100_000),
            "image/png",
        ),
        (
            "PNG declaring 5000x5000, no data",
            png_claiming(5000, 5000),
            "image/png",
        ),
        (
            "truncated JPEG (1/3 of the photo)",
            photo[..photo.len() / 3].to_vec(),
            "image/jpeg",
        ),
        (
            "JPEG header claiming 6000x5000",
            jpeg_claiming(&photo, 6000, 5000),
            "image/jpeg",
        ),
        (
            "JPEG header claiming 65000x65000",
            jpeg_claiming(&photo, 65000, 65000),
            "image/jpeg",
        ),
        (
            "GIF, 10000 frames on 200x200",
            gif_with_frames(200, 200, 10_000),
            "image/gif",
        ),
        (
            "GIF, 10000 frames on 1000x1000",
            gif_with_frames(1000, 1000, 10_000),
            "image/gif",
        ),
        ("zero bytes", Vec::new(), "image/png"),
        (
            "random bytes as image/png",
            (0..65_536).map(|_| rnd() as u8).collect(),
            "image/png",
        ),
    ]
}

fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut c = (data.len() as u32).to_be_bytes().to_vec();
        c.extend_from_slice(kind);
        c.extend_from_slice(data);
        let mut crc = !0u32;
        for &b in &c[4..] {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        c.extend_from_slice(&(!crc).to_be_bytes());
        c
    }
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

fn jpeg_claiming(photo: &[u8], w: u16, h: u16) -> Vec<u8> {
    let mut b = photo.to_vec();
    let sof = b.windows(2).position(|x| x == [0xFF, 0xC0]).unwrap();
    b[sof + 5..sof + 7].copy_from_slice(&h.to_be_bytes());
    b[sof + 7..sof + 9].copy_from_slice(&w.to_be_bytes());
    b
}

/// 1x1 frames of 20 ms, each changing one pixel of the canvas's top row.
fn gif_with_frames(width: u16, height: u16, frames: usize) -> Vec<u8> {
    let mut gif = b"GIF89a".to_vec();
    gif.extend_from_slice(&width.to_le_bytes());
    gif.extend_from_slice(&height.to_le_bytes());
    gif.extend_from_slice(&[0x81, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255]);
    gif.extend_from_slice(b"\x21\xFF\x0BNETSCAPE2.0\x03\x01\x00\x00\x00");
    for i in 0..frames {
        gif.extend_from_slice(&[0x21, 0xF9, 0x04, 0x00, 2, 0, 0, 0, 0x2C]);
        gif.extend_from_slice(&((i % usize::from(width)) as u16).to_le_bytes());
        gif.extend_from_slice(&[0, 0, 1, 0, 1, 0, 0]);
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

fn xorshift(seed: u64) -> impl FnMut() -> u64 {
    let mut s = seed.max(1);
    move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    }
}
