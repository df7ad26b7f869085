//! Reading sources: format sniffing, header checks against the limits, then bounded decoding of
//! the still image or of the animation frames.
//!
//! Every decoder gets dimension limits, and every buffer is checked against
//! [`Limits::max_alloc_bytes`] before it is allocated: the `image` crate does not apply its
//! allocation limit on the `from_decoder` path.

mod jpeg;

use std::io::Cursor;

use image::codecs::gif::GifDecoder;
use image::codecs::png::PngDecoder;
use image::codecs::webp::WebPDecoder;
use image::metadata::{LoopCount, Orientation};
use image::{AnimationDecoder, ColorType, DynamicImage, ImageDecoder};

use crate::geometry;
use crate::raster::Raster;
use crate::{ImagingError, Limits};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    Jpeg,
    Png,
    Gif,
    Webp,
}

/// The format from the first bytes, whatever the upload's media type says (as Pillow does).
pub(crate) fn sniff(bytes: &[u8]) -> Option<Format> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(Format::Jpeg)
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(Format::Png)
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some(Format::Gif)
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        Some(Format::Webp)
    } else {
        None
    }
}

/// A source whose header was read and found within the limits.
pub(crate) struct Source<'a> {
    bytes: &'a [u8],
    format: Format,
    stored: (u32, u32),
    orientation: Orientation,
    /// GIF (unknown until the second frame), APNG, animated WebP.
    may_animate: bool,
    jpeg: Option<jpeg::Header>,
    limits: Limits,
}

impl<'a> Source<'a> {
    pub(crate) fn open(bytes: &'a [u8], limits: &Limits) -> Result<Self, ImagingError> {
        let format = sniff(bytes).ok_or(ImagingError::UnknownFormat)?;
        // Any side may be up to max_pixels long (the other being 1); the pixel check follows.
        let side = u32::try_from(limits.max_pixels).unwrap_or(u32::MAX);
        let probe = image_limits((side, side), limits.max_alloc_bytes);
        let cursor = || Cursor::new(bytes);
        let mut jpeg = None;
        let (stored, orientation, may_animate) = match format {
            Format::Jpeg => {
                let header = jpeg::Header::parse(bytes)?;
                let found = ((header.width, header.height), header.orientation, false);
                jpeg = Some(header);
                found
            }
            Format::Png => {
                let mut d = PngDecoder::with_limits(cursor(), probe)?;
                (d.dimensions(), d.orientation()?, d.is_apng()?)
            }
            Format::Gif => {
                let mut d = GifDecoder::new(cursor())?;
                d.set_limits(probe)?;
                (d.dimensions(), Orientation::NoTransforms, true)
            }
            Format::Webp => {
                let mut d = WebPDecoder::new(cursor())?;
                d.set_limits(probe)?;
                (d.dimensions(), d.orientation()?, d.has_animation())
            }
        };
        let (w, h) = (u64::from(stored.0), u64::from(stored.1));
        if w == 0 || h == 0 {
            return Err(ImagingError::Undecodable("image has no pixels".to_owned()));
        }
        if w * h >= limits.max_pixels {
            return Err(ImagingError::TooManyPixels {
                width: w,
                height: h,
                max: limits.max_pixels,
            });
        }
        if let Some(header) = &jpeg {
            header.check(limits)?;
        }
        Ok(Self {
            bytes,
            format,
            stored,
            orientation,
            may_animate,
            jpeg,
            limits: limits.clone(),
        })
    }

    /// The size as stored, before the EXIF orientation.
    pub(crate) fn stored(&self) -> (u32, u32) {
        self.stored
    }

    pub(crate) fn orientation(&self) -> Orientation {
        self.orientation
    }

    /// The size as shown, after the EXIF orientation.
    pub(crate) fn displayed(&self) -> (u32, u32) {
        geometry::displayed(self.stored, self.orientation)
    }

    /// Whether the source may be animated and its animation fits the limits at `cost` (see
    /// [`Source::frames`]) per frame: at least two frames within the frame and pixel budgets, and
    /// three RGBA canvases (the decoder's, the frame being read, and the first frame, kept until
    /// the second shows the source is animated) within `max_alloc_bytes`.
    pub(crate) fn can_animate(&self, cost: u64) -> bool {
        let canvas = u64::from(self.stored.0) * u64::from(self.stored.1);
        self.may_animate
            && self.limits.max_frames >= 2
            && cost.saturating_mul(2) <= self.limits.max_animation_pixels
            && canvas.saturating_mul(4 * 3) <= self.limits.max_alloc_bytes
    }

    /// The still image (the first frame of an animation), in stored orientation. JPEG is decoded
    /// at the smallest DCT scale that still gives `need` (width, height) pixels; other formats at
    /// full size.
    pub(crate) fn decode_still(&self, need: (f64, f64)) -> Result<Raster, ImagingError> {
        let limits = image_limits(self.stored, self.limits.max_alloc_bytes);
        let cursor = Cursor::new(self.bytes);
        match (self.format, &self.jpeg) {
            (Format::Jpeg, Some(header)) => {
                let numerator = jpeg::numerator(self.stored, need);
                jpeg::decode(self.bytes, header, numerator, &self.limits)
            }
            (Format::Png, _) => {
                decode_checked(PngDecoder::with_limits(cursor, limits.clone())?, limits)
            }
            (Format::Gif, _) => decode_checked(GifDecoder::new(cursor)?, limits),
            (Format::Webp, _) => decode_checked(WebPDecoder::new(cursor)?, limits),
            (Format::Jpeg, None) => Err(ImagingError::Undecodable("jpeg header missing".into())),
        }
    }

    /// The frames of an animated source, full size, in stored orientation, cut off at
    /// `max_frames` frames or once `max_animation_pixels` is spent at `cost` per frame.
    pub(crate) fn frames(&self, cost: u64) -> Result<Frames<'a>, ImagingError> {
        let limits = image_limits(self.stored, self.limits.max_alloc_bytes);
        let cursor = Cursor::new(self.bytes);
        let (frames, loops) = match self.format {
            Format::Gif => {
                let mut d = GifDecoder::new(cursor)?;
                d.set_limits(limits)?;
                let loops = d.loop_count();
                (d.into_frames(), loops)
            }
            Format::Png => {
                let d = PngDecoder::with_limits(cursor, limits)?.apng()?;
                let loops = d.loop_count();
                (d.into_frames(), loops)
            }
            Format::Webp => {
                let mut d = WebPDecoder::new(cursor)?;
                d.set_limits(limits)?;
                let loops = d.loop_count();
                (d.into_frames(), loops)
            }
            Format::Jpeg => return Err(ImagingError::Undecodable("jpeg is never animated".into())),
        };
        let loop_count = match loops {
            LoopCount::Infinite => 0,
            LoopCount::Finite(n) => i32::try_from(n.get()).unwrap_or(0),
        };
        Ok(Frames {
            inner: frames,
            frames_left: self.limits.max_frames,
            pixels_left: self.limits.max_animation_pixels,
            cost: cost.max(1),
            is_gif: self.format == Format::Gif,
            loop_count,
        })
    }
}

/// Animation frames: (RGBA canvas, duration in ms).
pub(crate) struct Frames<'a> {
    inner: image::Frames<'a>,
    frames_left: u32,
    pixels_left: u64,
    /// Pixels charged per frame.
    cost: u64,
    is_gif: bool,
    /// For the output: 0 is forever.
    pub(crate) loop_count: i32,
}

impl Iterator for Frames<'_> {
    type Item = Result<(Raster, u32), ImagingError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.frames_left == 0 || self.pixels_left < self.cost {
            return None;
        }
        self.frames_left -= 1;
        self.pixels_left -= self.cost;
        let frame = match self.inner.next()? {
            Ok(frame) => frame,
            Err(e) => return Some(Err(e.into())),
        };
        let (num, den) = frame.delay().numer_denom_ms();
        let mut ms = num.checked_div(den).unwrap_or(0);
        // Browsers play GIF delays of 10 ms or less at 100 ms; keep thumbnails at that pace.
        if self.is_gif && ms <= 10 {
            ms = 100;
        }
        let buffer = frame.into_buffer();
        let raster = Raster::from_dynamic(DynamicImage::ImageRgba8(buffer));
        Some(Ok((raster, ms)))
    }
}

fn image_limits(max: (u32, u32), max_alloc: u64) -> image::Limits {
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(max.0);
    limits.max_image_height = Some(max.1);
    limits.max_alloc = Some(max_alloc);
    limits
}

/// Decodes a whole still after checking its buffers (the decoded image, and the 8-bit RGB(A)
/// copy when it is in another colour type) against `max_alloc`.
fn decode_checked(
    mut decoder: impl ImageDecoder,
    limits: image::Limits,
) -> Result<Raster, ImagingError> {
    let max = limits.max_alloc.unwrap_or(u64::MAX);
    decoder.set_limits(limits)?;
    let (w, h) = decoder.dimensions();
    let copy = match decoder.color_type() {
        ColorType::Rgb8 | ColorType::Rgba8 => 0,
        _ => u64::from(w) * u64::from(h) * 4,
    };
    let needed = decoder.total_bytes().saturating_add(copy);
    if needed > max {
        return Err(ImagingError::TooMuchMemory { needed, max });
    }
    Ok(Raster::from_dynamic(DynamicImage::from_decoder(decoder)?))
}

#[cfg(test)]
mod tests;
