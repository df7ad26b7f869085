#![cfg(test)]

use super::*;

fn spec(width: u32, height: u32, method: Method) -> Spec {
    Spec {
        width,
        height,
        method,
    }
}

fn defaults() -> Vec<Spec> {
    vec![
        spec(32, 32, Method::Crop),
        spec(96, 96, Method::Crop),
        spec(320, 240, Method::Scale),
        spec(640, 480, Method::Scale),
        spec(800, 600, Method::Scale),
    ]
}

fn sizes(jobs: &[Placement]) -> Vec<(u32, u32, Method)> {
    jobs.iter().map(|j| (j.width, j.height, j.method)).collect()
}

#[test]
fn default_sizes_for_a_photo() {
    let jobs = pregeneration((2000, 1500), &defaults());
    assert_eq!(
        sizes(&jobs),
        [
            (32, 32, Method::Crop),
            (96, 96, Method::Crop),
            (320, 240, Method::Scale),
            (640, 480, Method::Scale),
            (800, 600, Method::Scale),
        ]
    );
}

#[test]
fn scale_replaces_a_crop_of_the_same_size_in_its_place() {
    let jobs = pregeneration(
        (2000, 1500),
        &[
            spec(320, 240, Method::Crop),
            spec(32, 32, Method::Crop),
            spec(320, 240, Method::Scale),
        ],
    );
    assert_eq!(
        sizes(&jobs),
        [(320, 240, Method::Scale), (32, 32, Method::Crop)]
    );
    assert_eq!(jobs[0].rect, Rect::full(2000, 1500));
}

#[test]
fn a_crop_after_a_scale_of_the_same_size_is_dropped() {
    let jobs = pregeneration(
        (400, 400),
        &[spec(96, 96, Method::Scale), spec(96, 96, Method::Crop)],
    );
    assert_eq!(sizes(&jobs), [(96, 96, Method::Scale)]);
}

#[test]
fn scales_of_a_small_source_collapse_to_its_size() {
    let jobs = pregeneration((100, 80), &defaults());
    assert_eq!(
        sizes(&jobs),
        [
            (32, 32, Method::Crop),
            (96, 96, Method::Crop),
            (100, 80, Method::Scale)
        ]
    );
}

#[test]
fn the_scale_size_is_computed_against_the_displayed_source() {
    // A portrait source (e.g. EXIF-rotated): 320x240 box gives 180x240.
    let jobs = pregeneration((1500, 2000), &[spec(320, 240, Method::Scale)]);
    assert_eq!(sizes(&jobs), [(180, 240, Method::Scale)]);
}

#[test]
fn zero_sizes_are_skipped() {
    let jobs = pregeneration(
        (100, 100),
        &[spec(0, 32, Method::Crop), spec(32, 0, Method::Scale)],
    );
    assert!(jobs.is_empty());
}

#[test]
fn oversized_outputs_are_refused() {
    let limits = Limits::default();
    let huge = geometry::placement((10, 10), spec(100_000, 100_000, Method::Crop));
    let err = check_output(&huge, &limits).unwrap_err();
    assert_eq!(err.kind(), crate::ErrorKind::TooLarge);
    let fine = geometry::placement((10, 10), spec(800, 600, Method::Crop));
    check_output(&fine, &limits).unwrap();
}
