//! Encoders: JPEG (jpeg-encoder), PNG (`image`), still and animated WebP (libwebp).

use image::ImageEncoder;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use webp_animation::{
    AnimParams, Encoder as WebpEncoder, EncoderOptions, EncodingConfig, EncodingType,
    LossyEncodingConfig,
};

use crate::ImagingError;
use crate::raster::{Layout, Raster};

/// Synapse saves every thumbnail with Pillow's `quality=80`.
const QUALITY: u8 = 80;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OutputFormat {
    Jpeg,
    Png,
    Webp,
}

impl OutputFormat {
    /// The thumbnail types Synapse can write (`Thumbnailer.FORMATS`).
    pub(crate) fn parse(media_type: &str) -> Option<Self> {
        match media_type {
            "image/jpeg" => Some(Self::Jpeg),
            "image/png" => Some(Self::Png),
            "image/webp" => Some(Self::Webp),
            _ => None,
        }
    }

    pub(crate) fn media_type(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Webp => "image/webp",
        }
    }
}

pub(crate) fn encode_still(raster: Raster, format: OutputFormat) -> Result<Vec<u8>, ImagingError> {
    match format {
        OutputFormat::Jpeg => jpeg(&raster.into_rgb()),
        OutputFormat::Png => png(&raster.drop_opaque_alpha()),
        OutputFormat::Webp => {
            let mut anim = Animation::new(raster.width, raster.height, 0)?;
            anim.add(raster, 100)?;
            anim.finish()
        }
    }
}

fn jpeg(raster: &Raster) -> Result<Vec<u8>, ImagingError> {
    let too_wide = || ImagingError::Encode("jpeg sides are at most 65535 pixels".to_owned());
    let w = u16::try_from(raster.width).map_err(|_| too_wide())?;
    let h = u16::try_from(raster.height).map_err(|_| too_wide())?;
    let mut out = Vec::with_capacity(raster.data.len() / 8);
    jpeg_encoder::Encoder::new(&mut out, QUALITY)
        .encode(&raster.data, w, h, jpeg_encoder::ColorType::Rgb)
        .map_err(ImagingError::encode)?;
    Ok(out)
}

fn png(raster: &Raster) -> Result<Vec<u8>, ImagingError> {
    let color = match raster.layout {
        Layout::Rgb => image::ExtendedColorType::Rgb8,
        Layout::Rgba => image::ExtendedColorType::Rgba8,
    };
    let mut out = Vec::with_capacity(raster.data.len() / 2);
    PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::Adaptive)
        .write_image(&raster.data, raster.width, raster.height, color)
        .map_err(ImagingError::encode)?;
    Ok(out)
}

/// An animated WebP being written frame by frame: libwebp encodes each frame as it is added,
/// so only the compressed stream and one canvas are held.
pub(crate) struct Animation {
    encoder: WebpEncoder,
    width: u32,
    height: u32,
    /// Start of the next frame, in milliseconds.
    clock: i32,
}

impl Animation {
    /// `loop_count`: 0 for forever.
    pub(crate) fn new(width: u32, height: u32, loop_count: i32) -> Result<Self, ImagingError> {
        let options = EncoderOptions {
            anim_params: AnimParams { loop_count },
            encoding_config: Some(EncodingConfig {
                encoding_type: EncodingType::Lossy(LossyEncodingConfig {
                    segments: 4,
                    ..LossyEncodingConfig::new_from_default_preset()
                }),
                quality: f32::from(QUALITY),
                ..EncodingConfig::default()
            }),
            ..EncoderOptions::default()
        };
        let encoder = WebpEncoder::new_with_options((width, height), options)
            .map_err(ImagingError::encode)?;
        Ok(Self {
            encoder,
            width,
            height,
            clock: 0,
        })
    }

    /// Adds a frame shown for `duration_ms`, kept within 1 ms (libwebp needs increasing
    /// timestamps) and 10 minutes.
    pub(crate) fn add(&mut self, frame: Raster, duration_ms: u32) -> Result<(), ImagingError> {
        let frame = frame.into_rgba();
        if (frame.width, frame.height) != (self.width, self.height) {
            return Err(ImagingError::Encode(
                "animation frame of the wrong size".to_owned(),
            ));
        }
        self.encoder
            .add_frame(&frame.data, self.clock)
            .map_err(ImagingError::encode)?;
        let duration = duration_ms.clamp(1, 600_000) as i32;
        self.clock = self.clock.saturating_add(duration);
        Ok(())
    }

    pub(crate) fn finish(self) -> Result<Vec<u8>, ImagingError> {
        let data = self
            .encoder
            .finalize(self.clock)
            .map_err(ImagingError::encode)?;
        Ok(data.to_vec())
    }
}
