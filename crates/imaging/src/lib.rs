//! Thumbnails for mxcd: decode an uploaded image once, within limits, and produce Synapse's
//! thumbnails from it (synapse/media/thumbnailer.py and media_repository.py are the contract).
//!
//! Everything here is CPU-bound and synchronous: call it from a blocking pool. Every function is
//! thread-safe and keeps no state between calls.
//!
//! * JPEG is decoded by libjpeg-turbo (mozjpeg), shrunk in the DCT by up to 8 times to the size
//!   the largest thumbnail needs; PNG (and APNG), GIF and WebP by the `image` crate.
//! * Resizing is Lanczos3 (`fast_image_resize`), as Synapse's Pillow `LANCZOS`.
//! * Still thumbnails are JPEG (quality 80), PNG or WebP (lossy, quality 80); animated ones are
//!   animated WebP (libwebp), as recent Synapse does.

mod decode;
mod encode;
mod error;
mod geometry;
mod plan;
mod raster;
mod render;
mod select;

use std::panic::{AssertUnwindSafe, catch_unwind};

pub use error::{ErrorKind, ImagingError};
pub use select::{Candidate, select};

use encode::OutputFormat;
use render::Mode;

/// The source media types that get thumbnails (Synapse's `THUMBNAIL_SUPPORTED_MEDIA_FORMAT_MAP`).
pub const THUMBNAILABLE_TYPES: [&str; 5] = [
    "image/jpeg",
    "image/jpg",
    "image/webp",
    "image/gif",
    "image/png",
];

/// The media type of animated thumbnails.
pub const ANIMATED_TYPE: &str = "image/webp";

/// Bounds on the work and memory of one call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Sources with width × height at or over this are refused before decoding (Synapse's
    /// `max_image_pixels`). Requested thumbnails are held to it too.
    pub max_pixels: u64,
    /// Animated thumbnails keep at most this many frames of the source; the rest are dropped.
    pub max_frames: u32,
    /// The largest decoded buffer one call may hold: a still image, an animation frame, or the
    /// coefficients of a progressive JPEG. Checked before decoding.
    pub max_alloc_bytes: u64,
    /// Animated thumbnails stop once this many pixels are spent: each frame costs, for every
    /// animated thumbnail made from it, its canvas (resampled) plus the thumbnail (encoded). A
    /// bound on the CPU time of an animation; the default is about a second here for frames
    /// that change every pixel.
    pub max_animation_pixels: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_pixels: 32 << 20,
            max_frames: 250,
            max_alloc_bytes: 256 << 20,
            max_animation_pixels: 64 << 20,
        }
    }
}

/// How a thumbnail is cut from its source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// Scale to cover the requested size, then take the centre: exactly the requested size.
    Crop,
    /// The largest size with the source's aspect ratio inside the requested size, never larger
    /// than the source.
    Scale,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Crop => "crop",
            Self::Scale => "scale",
        }
    }
}

impl std::str::FromStr for Method {
    type Err = ImagingError;

    /// Exactly `crop` or `scale`, as Synapse's generator compares them.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "crop" => Ok(Self::Crop),
            "scale" => Ok(Self::Scale),
            other => Err(ImagingError::UnknownMethod(other.to_owned())),
        }
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A configured or requested thumbnail size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Spec {
    pub width: u32,
    pub height: u32,
    pub method: Method,
}

/// One encoded thumbnail.
#[derive(Clone, PartialEq, Eq)]
pub struct Thumbnail {
    /// The actual pixel size. For `scale` this is Synapse's computed size, which may be smaller
    /// than the request.
    pub width: u32,
    pub height: u32,
    pub method: Method,
    pub media_type: &'static str,
    /// Several frames (then `media_type` is [`ANIMATED_TYPE`]).
    pub animated: bool,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for Thumbnail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Thumbnail")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("method", &self.method)
            .field("media_type", &self.media_type)
            .field("animated", &self.animated)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

/// Whether Synapse makes thumbnails of this media type (parameters after `;` ignored,
/// case-sensitive as in Synapse).
pub fn is_thumbnailable(media_type: &str) -> bool {
    THUMBNAILABLE_TYPES.contains(&essence(media_type))
}

/// The type of pre-generated thumbnails for a source type: JPEG for JPEG and WebP sources, PNG
/// for PNG and GIF ones (and for anything else).
pub fn output_type(source_media_type: &str) -> &'static str {
    match essence(source_media_type) {
        "image/jpeg" | "image/jpg" | "image/webp" => "image/jpeg",
        _ => "image/png",
    }
}

/// The thumbnails to store at upload: decodes `source` once and produces every size of `sizes`
/// in [`output_type`], deduplicated as Synapse does (a `scale` result with the same size as a
/// `crop` entry replaces it). Animated sources also get an animated WebP per size and method,
/// listed after the still ones. Sizes with a zero side are skipped.
pub fn pregenerate(
    source: &[u8],
    source_media_type: &str,
    sizes: &[Spec],
    limits: &Limits,
) -> Result<Vec<Thumbnail>, ImagingError> {
    if !is_thumbnailable(source_media_type) {
        return Err(ImagingError::UnsupportedType(source_media_type.to_owned()));
    }
    let format = OutputFormat::parse(output_type(source_media_type)).unwrap_or(OutputFormat::Png);
    guarded(|| {
        let src = decode::Source::open(source, limits)?;
        let jobs = plan::pregeneration(src.displayed(), sizes);
        for job in &jobs {
            plan::check_output(job, limits)?;
        }
        render::render(&src, &jobs, format, Mode::StillAndAnimation)
    })
}

/// One thumbnail made on request (`dynamic_thumbnails`): `desired_type` is `image/jpeg`,
/// `image/png` or `image/webp`. With `animated`, an animated source gives an animated WebP; a
/// still source (or a GIF of one frame) gives the still thumbnail in `desired_type`, as Synapse.
pub fn generate(
    source: &[u8],
    source_media_type: &str,
    spec: Spec,
    desired_type: &str,
    animated: bool,
    limits: &Limits,
) -> Result<Thumbnail, ImagingError> {
    if !is_thumbnailable(source_media_type) {
        return Err(ImagingError::UnsupportedType(source_media_type.to_owned()));
    }
    let format = OutputFormat::parse(desired_type)
        .ok_or_else(|| ImagingError::UnsupportedOutput(desired_type.to_owned()))?;
    if spec.width == 0 || spec.height == 0 {
        return Err(ImagingError::EmptySize);
    }
    let mode = if animated {
        Mode::PreferAnimation
    } else {
        Mode::Still
    };
    let mut out = guarded(|| {
        let src = decode::Source::open(source, limits)?;
        let job = geometry::placement(src.displayed(), spec);
        plan::check_output(&job, limits)?;
        render::render(&src, &[job], format, mode)
    })?;
    out.pop()
        .ok_or_else(|| ImagingError::Encode("no thumbnail was produced".to_owned()))
}

fn essence(media_type: &str) -> &str {
    media_type.split(';').next().unwrap_or_default()
}

/// Runs codec work, turning a panic (a codec bug, or a libjpeg error unwinding) into an error.
fn guarded<T>(f: impl FnOnce() -> Result<T, ImagingError>) -> Result<T, ImagingError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|payload| Err(panic_error(payload)))
}

fn panic_error(payload: Box<dyn std::any::Any + Send>) -> ImagingError {
    let msg = payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "unknown panic".to_owned());
    // libjpeg reports corrupt data by unwinding with its message; that is bad input, not a bug.
    match msg.strip_prefix("libjpeg fatal error: ") {
        Some(m) => ImagingError::Undecodable(m.to_owned()),
        None => ImagingError::Panicked(msg),
    }
}

#[cfg(not(panic = "unwind"))]
compile_error!("mxcd-imaging needs panic = \"unwind\": libjpeg reports corrupt JPEGs by unwinding");
