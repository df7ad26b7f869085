//! Decoded pixels (8-bit RGB or RGBA) and the operations on them: resize, orient, flatten.

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::metadata::Orientation;
use image::{DynamicImage, ImageBuffer};

use crate::ImagingError;
use crate::geometry::Rect;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Layout {
    Rgb,
    Rgba,
}

impl Layout {
    fn pixel_type(self) -> PixelType {
        match self {
            Self::Rgb => PixelType::U8x3,
            Self::Rgba => PixelType::U8x4,
        }
    }
}

/// Row-major 8-bit pixels, no padding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Raster {
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) layout: Layout,
    pub(crate) data: Vec<u8>,
}

impl Raster {
    /// Converts any decoded image (palette already expanded by the decoder, greyscale, 16-bit)
    /// to RGB, or RGBA when it has an alpha channel. 8-bit RGB(A) is moved, not copied.
    pub(crate) fn from_dynamic(img: DynamicImage) -> Self {
        let (width, height) = (img.width(), img.height());
        if img.color().has_alpha() {
            Self {
                width,
                height,
                layout: Layout::Rgba,
                data: img.into_rgba8().into_raw(),
            }
        } else {
            Self {
                width,
                height,
                layout: Layout::Rgb,
                data: img.into_rgb8().into_raw(),
            }
        }
    }

    /// Resamples `rect` (in this raster's pixels) to `width`×`height` with Lanczos3. Alpha is
    /// premultiplied while filtering, so transparent pixels do not bleed their colour.
    pub(crate) fn resize(&self, rect: Rect, width: u32, height: u32) -> Result<Self, ImagingError> {
        let src = ImageRef::new(
            self.width,
            self.height,
            &self.data,
            self.layout.pixel_type(),
        )
        .map_err(ImagingError::encode)?;
        let mut dst = Image::new(width, height, self.layout.pixel_type());
        let (w, h) = (f64::from(self.width), f64::from(self.height));
        let x = rect.x.clamp(0.0, w - 1.0);
        let y = rect.y.clamp(0.0, h - 1.0);
        let cw = rect.w.clamp(1.0, w - x);
        let ch = rect.h.clamp(1.0, h - y);
        let options = ResizeOptions::new()
            .resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3))
            .crop(x, y, cw, ch);
        Resizer::new()
            .resize(&src, &mut dst, &options)
            .map_err(ImagingError::encode)?;
        Ok(Self {
            width,
            height,
            layout: self.layout,
            data: dst.into_vec(),
        })
    }

    /// Applies an EXIF orientation, as a viewer would before showing the image.
    pub(crate) fn orient(self, orientation: Orientation) -> Self {
        if orientation == Orientation::NoTransforms {
            return self;
        }
        let layout = self.layout;
        let mut img = self.into_dynamic();
        img.apply_orientation(orientation);
        let (width, height) = (img.width(), img.height());
        let data = match layout {
            Layout::Rgb => img.into_rgb8().into_raw(),
            Layout::Rgba => img.into_rgba8().into_raw(),
        };
        Self {
            width,
            height,
            layout,
            data,
        }
    }

    /// RGB for formats without alpha: transparent pixels are composited over white.
    pub(crate) fn into_rgb(self) -> Self {
        if self.layout == Layout::Rgb {
            return self;
        }
        let data = self
            .data
            .chunks_exact(4)
            .flat_map(|p| {
                let a = u32::from(p[3]);
                let over_white = |c: u8| ((u32::from(c) * a + 255 * (255 - a) + 127) / 255) as u8;
                [over_white(p[0]), over_white(p[1]), over_white(p[2])]
            })
            .collect();
        Self {
            width: self.width,
            height: self.height,
            layout: Layout::Rgb,
            data,
        }
    }

    /// RGB when every pixel is opaque (GIF frames always come as RGBA): a smaller PNG.
    pub(crate) fn drop_opaque_alpha(self) -> Self {
        let opaque = self.layout == Layout::Rgba && self.data.chunks_exact(4).all(|p| p[3] == 255);
        if opaque { self.into_rgb() } else { self }
    }

    pub(crate) fn into_rgba(self) -> Self {
        if self.layout == Layout::Rgba {
            return self;
        }
        let data = self
            .data
            .chunks_exact(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect();
        Self {
            width: self.width,
            height: self.height,
            layout: Layout::Rgba,
            data,
        }
    }

    fn into_dynamic(self) -> DynamicImage {
        let (w, h) = (self.width, self.height);
        // The buffer always has exactly w × h × channels bytes, so from_raw cannot fail.
        match self.layout {
            Layout::Rgb => ImageBuffer::from_raw(w, h, self.data).map(DynamicImage::ImageRgb8),
            Layout::Rgba => ImageBuffer::from_raw(w, h, self.data).map(DynamicImage::ImageRgba8),
        }
        .unwrap_or_else(|| DynamicImage::new_rgb8(w, h))
    }
}
