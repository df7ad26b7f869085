//! Thumbnail sizes and source rectangles, following Synapse's `Thumbnailer.aspect`, `crop` and
//! `scale` (synapse/media/thumbnailer.py), plus the mapping from displayed to stored pixels for
//! EXIF orientations.

use image::metadata::Orientation;

use crate::{Method, Spec};

/// A rectangle in (fractional) pixel units of an image.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Rect {
    pub(crate) x: f64,
    pub(crate) y: f64,
    pub(crate) w: f64,
    pub(crate) h: f64,
}

impl Rect {
    pub(crate) fn full(width: u32, height: u32) -> Self {
        Self {
            x: 0.0,
            y: 0.0,
            w: f64::from(width),
            h: f64::from(height),
        }
    }

    /// The same region in an image resampled from `from` to `to` pixels.
    pub(crate) fn rescale(self, from: (u32, u32), to: (u32, u32)) -> Self {
        let sx = f64::from(to.0) / f64::from(from.0);
        let sy = f64::from(to.1) / f64::from(from.1);
        Self {
            x: self.x * sx,
            y: self.y * sy,
            w: self.w * sx,
            h: self.h * sy,
        }
    }
}

/// One thumbnail: its pixel size and the part of the displayed source it shows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Placement {
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) method: Method,
    /// In displayed (orientation applied) pixels of the full-size source.
    pub(crate) rect: Rect,
}

/// Synapse's `aspect`: the largest size with the source's aspect ratio that fits in
/// `max_w`×`max_h`, each side at least 1.
pub(crate) fn aspect(src: (u32, u32), max_w: u32, max_h: u32) -> (u32, u32) {
    let (w, h) = (u64::from(src.0), u64::from(src.1));
    let (mw, mh) = (u64::from(max_w), u64::from(max_h));
    if mw * h < mh * w {
        (max_w, narrow((mw * h / w).max(1)))
    } else {
        (narrow((mh * w / h).max(1)), max_h)
    }
}

/// Synapse's size for `scale`: `aspect`, then never larger than the source on either side.
pub(crate) fn scale_size(src: (u32, u32), max_w: u32, max_h: u32) -> (u32, u32) {
    let (w, h) = aspect(src, max_w, max_h);
    (w.min(src.0), h.min(src.1))
}

/// Synapse's `crop`: scale to cover `out_w`×`out_h` (rounding down), then take the centre. Returns
/// the part of the source that ends up in the thumbnail. The source is upscaled when smaller, as
/// in Synapse.
pub(crate) fn crop_rect(src: (u32, u32), out_w: u32, out_h: u32) -> Rect {
    let (w, h) = (u64::from(src.0), u64::from(src.1));
    let (ow, oh) = (u64::from(out_w), u64::from(out_h));
    if ow * h > oh * w {
        let scaled_h = ow * h / w;
        let top = (scaled_h - oh) / 2;
        let k = f64::from(src.1) / scaled_h as f64;
        Rect {
            x: 0.0,
            y: top as f64 * k,
            w: f64::from(src.0),
            h: oh as f64 * k,
        }
    } else {
        let scaled_w = oh * w / h;
        let left = (scaled_w - ow) / 2;
        let k = f64::from(src.0) / scaled_w as f64;
        Rect {
            x: left as f64 * k,
            y: 0.0,
            w: ow as f64 * k,
            h: f64::from(src.1),
        }
    }
}

/// Where a thumbnail of `spec` comes from, for a source displayed at `src` pixels. For `scale`,
/// the size is the one Synapse computes; `spec` sizes are taken as given otherwise.
pub(crate) fn placement(src: (u32, u32), spec: Spec) -> Placement {
    match spec.method {
        Method::Crop => Placement {
            width: spec.width,
            height: spec.height,
            method: Method::Crop,
            rect: crop_rect(src, spec.width, spec.height),
        },
        Method::Scale => {
            let (width, height) = scale_size(src, spec.width, spec.height);
            Placement {
                width,
                height,
                method: Method::Scale,
                rect: Rect::full(src.0, src.1),
            }
        }
    }
}

/// Whether displaying the image swaps its width and height.
pub(crate) fn swaps_axes(o: Orientation) -> bool {
    matches!(
        o,
        Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH
    )
}

/// The displayed size of an image stored at `stored` pixels.
pub(crate) fn displayed(stored: (u32, u32), o: Orientation) -> (u32, u32) {
    if swaps_axes(o) {
        (stored.1, stored.0)
    } else {
        stored
    }
}

/// Maps a rectangle of the displayed image to the stored image (`stored` = stored size): the
/// inverse of what `DynamicImage::apply_orientation` does.
pub(crate) fn to_stored(r: Rect, o: Orientation, stored: (u32, u32)) -> Rect {
    let (w, h) = (f64::from(stored.0), f64::from(stored.1));
    let point = |x: f64, y: f64| match o {
        Orientation::NoTransforms => (x, y),
        Orientation::FlipHorizontal => (w - x, y),
        Orientation::Rotate180 => (w - x, h - y),
        Orientation::FlipVertical => (x, h - y),
        Orientation::Rotate90 => (y, h - x),
        Orientation::Rotate270 => (w - y, x),
        Orientation::Rotate90FlipH => (y, x),
        Orientation::Rotate270FlipH => (w - y, h - x),
    };
    let (ax, ay) = point(r.x, r.y);
    let (bx, by) = point(r.x + r.w, r.y + r.h);
    Rect {
        x: ax.min(bx),
        y: ay.min(by),
        w: (ax - bx).abs(),
        h: (ay - by).abs(),
    }
}

fn narrow(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests;
