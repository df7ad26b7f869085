//! From one decoded source to every requested thumbnail.

use crate::decode::Source;
use crate::encode::{self, Animation, OutputFormat};
use crate::geometry::{self, Placement};
use crate::raster::Raster;
use crate::{ANIMATED_TYPE, ImagingError, Thumbnail};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Still thumbnails only (the first frame of an animation).
    Still,
    /// Animated thumbnails for an animated source, still ones otherwise.
    PreferAnimation,
    /// Still thumbnails, plus animated ones for an animated source (pre-generation).
    StillAndAnimation,
}

pub(crate) fn render(
    src: &Source<'_>,
    jobs: &[Placement],
    format: OutputFormat,
    mode: Mode,
) -> Result<Vec<Thumbnail>, ImagingError> {
    if jobs.is_empty() {
        return Ok(Vec::new());
    }
    // A source too large to animate within the limits gets still thumbnails.
    let cost = animation_cost(src, jobs);
    if mode != Mode::Still && src.can_animate(cost) {
        return render_animation(src, jobs, format, mode, cost);
    }
    let raster = src.decode_still(decode_need(src, jobs))?;
    stills(src, &raster, jobs, format)
}

/// Decodes the frames once, feeding every animated thumbnail as it goes. A source with a single
/// frame gets still thumbnails from it.
fn render_animation(
    src: &Source<'_>,
    jobs: &[Placement],
    format: OutputFormat,
    mode: Mode,
    cost: u64,
) -> Result<Vec<Thumbnail>, ImagingError> {
    let mut frames = src.frames(cost)?;
    let first = match frames.next() {
        Some(frame) => frame?,
        None => {
            return Err(ImagingError::Undecodable(
                "animation without frames".to_owned(),
            ));
        }
    };
    // A broken second frame leaves a still image; later broken frames end the animation.
    let Some(Ok(second)) = frames.next() else {
        return stills(src, &first.0, jobs, format);
    };
    let mut out = match mode {
        Mode::StillAndAnimation => stills(src, &first.0, jobs, format)?,
        Mode::Still | Mode::PreferAnimation => Vec::new(),
    };
    let mut animations = jobs
        .iter()
        .map(|job| Animation::new(job.width, job.height, frames.loop_count))
        .collect::<Result<Vec<_>, _>>()?;
    let rest = frames.map_while(Result::ok);
    for (raster, duration) in [first, second].into_iter().chain(rest) {
        for (job, animation) in jobs.iter().zip(&mut animations) {
            animation.add(cut(src, &raster, job)?, duration)?;
        }
    }
    for (job, animation) in jobs.iter().zip(animations) {
        out.push(Thumbnail {
            width: job.width,
            height: job.height,
            method: job.method,
            media_type: ANIMATED_TYPE,
            animated: true,
            bytes: animation.finish()?,
        });
    }
    Ok(out)
}

fn stills(
    src: &Source<'_>,
    raster: &Raster,
    jobs: &[Placement],
    format: OutputFormat,
) -> Result<Vec<Thumbnail>, ImagingError> {
    jobs.iter()
        .map(|job| {
            Ok(Thumbnail {
                width: job.width,
                height: job.height,
                method: job.method,
                media_type: format.media_type(),
                animated: false,
                bytes: encode::encode_still(cut(src, raster, job)?, format)?,
            })
        })
        .collect()
}

/// One thumbnail from a decoded raster (stored orientation, possibly DCT-shrunk): resample the
/// job's region to the job's size, then orient. Resizing before orienting turns the smaller
/// image.
fn cut(src: &Source<'_>, raster: &Raster, job: &Placement) -> Result<Raster, ImagingError> {
    let o = src.orientation();
    let rect = geometry::to_stored(job.rect, o, src.stored())
        .rescale(src.stored(), (raster.width, raster.height));
    let (w, h) = stored_size(job, o);
    Ok(raster.resize(rect, w, h)?.orient(o))
}

fn stored_size(job: &Placement, o: image::metadata::Orientation) -> (u32, u32) {
    if geometry::swaps_axes(o) {
        (job.height, job.width)
    } else {
        (job.width, job.height)
    }
}

/// The decoded size (stored pixels) that gives every job at least one source pixel per output
/// pixel.
fn decode_need(src: &Source<'_>, jobs: &[Placement]) -> (f64, f64) {
    let (sw, sh) = src.stored();
    let o = src.orientation();
    jobs.iter().fold((0.0, 0.0), |(nw, nh), job| {
        let rect = geometry::to_stored(job.rect, o, src.stored());
        let (w, h) = stored_size(job, o);
        let need_w = f64::from(sw) * f64::from(w) / rect.w;
        let need_h = f64::from(sh) * f64::from(h) / rect.h;
        (need_w.max(nw), need_h.max(nh))
    })
}

/// What one frame of an animation costs against `max_animation_pixels`: its canvas is resampled
/// once per animated thumbnail, and each thumbnail's pixels are encoded (libwebp's lossy encoder
/// is the larger part: about 0.1 µs a pixel here when every pixel changes).
fn animation_cost(src: &Source<'_>, jobs: &[Placement]) -> u64 {
    let (w, h) = src.stored();
    let canvas = u64::from(w) * u64::from(h);
    jobs.iter()
        .map(|job| canvas.saturating_add(u64::from(job.width) * u64::from(job.height)))
        .fold(0, u64::saturating_add)
}
