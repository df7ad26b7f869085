//! Choosing among stored thumbnails when `dynamic_thumbnails` is off: Synapse's
//! `ThumbnailProvider._select_thumbnail`.

use crate::Method;

/// A stored thumbnail, as the database describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub width: u32,
    pub height: u32,
    pub method: Method,
    pub media_type: String,
    /// Size in bytes.
    pub length: u64,
}

/// The stored thumbnail that best answers a request, or `None` when none has the requested
/// method (`method` is compared lowercased, so anything but `crop`/`scale` finds nothing).
///
/// Thumbnails at least as large as requested in width or height are preferred. Among them (or,
/// failing any, among the smaller ones) the minimum is taken of, for `crop`:
/// (|dw·th − dh·tw|, 0 if both sides are at least the request else 1, |(dw−tw)·(dh−th)|,
/// type ≠ desired, length); for `scale`: (|(dw−tw)·(dh−th)|, type ≠ desired, length). Ties go to
/// the earlier candidate.
pub fn select<'a>(
    candidates: &'a [Candidate],
    width: u32,
    height: u32,
    method: &str,
    desired_type: &str,
) -> Option<&'a Candidate> {
    let method = match method.to_lowercase().as_str() {
        "crop" => Method::Crop,
        "scale" => Method::Scale,
        _ => return None,
    };
    let (dw, dh) = (i128::from(width), i128::from(height));
    let key = |c: &Candidate| {
        let (tw, th) = (i128::from(c.width), i128::from(c.height));
        let size_quality = ((dw - tw) * (dh - th)).abs();
        let type_quality = c.media_type != desired_type;
        match method {
            Method::Crop => {
                let aspect_quality = (dw * th - dh * tw).abs();
                let min_quality = u8::from(!(dw <= tw && dh <= th));
                (
                    aspect_quality,
                    min_quality,
                    size_quality,
                    type_quality,
                    c.length,
                )
            }
            Method::Scale => (0, 0, size_quality, type_quality, c.length),
        }
    };
    let (large, small): (Vec<&Candidate>, Vec<&Candidate>) = candidates
        .iter()
        .filter(|c| c.method == method)
        .partition(|c| c.width >= width || c.height >= height);
    // `min_by_key` keeps the first of equal minima, as Python's `min`.
    let best = |group: Vec<&'a Candidate>| group.into_iter().min_by_key(|c| key(c));
    best(large).or_else(|| best(small))
}

#[cfg(test)]
mod tests;
