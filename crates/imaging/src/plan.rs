//! Which thumbnails to make at upload, with Synapse's deduplication
//! (`MediaRepository._generate_thumbnails`).

use crate::geometry::{self, Placement, Rect};
use crate::{ImagingError, Limits, Method, Spec};

/// The thumbnails to pre-generate for a source displayed at `src` pixels, in Synapse's order.
///
/// Synapse keys thumbnails by (width, height, type): a `crop` entry is added only if the key is
/// new, a `scale` entry (at its computed size) always takes the key, keeping the key's position.
/// The type is the same for every size of one source, so the key here is the size.
pub(crate) fn pregeneration(src: (u32, u32), sizes: &[Spec]) -> Vec<Placement> {
    let mut entries: Vec<((u32, u32), Method)> = Vec::new();
    for spec in sizes.iter().filter(|s| s.width > 0 && s.height > 0) {
        match spec.method {
            Method::Crop => {
                let key = (spec.width, spec.height);
                if !entries.iter().any(|(k, _)| *k == key) {
                    entries.push((key, Method::Crop));
                }
            }
            Method::Scale => {
                let key = geometry::scale_size(src, spec.width, spec.height);
                match entries.iter_mut().find(|(k, _)| *k == key) {
                    Some(entry) => entry.1 = Method::Scale,
                    None => entries.push((key, Method::Scale)),
                }
            }
        }
    }
    entries
        .into_iter()
        .map(|((width, height), method)| match method {
            Method::Crop => geometry::placement(
                src,
                Spec {
                    width,
                    height,
                    method,
                },
            ),
            // Synapse resizes to the size it computed; recomputing could round differently.
            Method::Scale => Placement {
                width,
                height,
                method,
                rect: Rect::full(src.0, src.1),
            },
        })
        .collect()
}

/// Refuses thumbnails that would themselves be too large (a crop may upscale).
pub(crate) fn check_output(job: &Placement, limits: &Limits) -> Result<(), ImagingError> {
    let (w, h) = (u64::from(job.width), u64::from(job.height));
    if w * h >= limits.max_pixels {
        return Err(ImagingError::TooManyPixels {
            width: w,
            height: h,
            max: limits.max_pixels,
        });
    }
    let needed = w * h * 4;
    if needed > limits.max_alloc_bytes {
        return Err(ImagingError::TooMuchMemory {
            needed,
            max: limits.max_alloc_bytes,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
