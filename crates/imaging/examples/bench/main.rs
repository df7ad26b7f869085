//! Thumbnail benchmark (issue 4): prints timings and memory, asserts nothing.
//!
//! `cargo run --release -p mxcd-imaging --example bench [-- --quick]`
//!
//! Inputs are made in memory (see inputs.rs): photo-like JPEGs, animated GIFs, and the hostile
//! inputs of the tests. Times are wall-clock median and p95, plus the CPU time of the thread (the
//! machine is shared). Memory is measured in a fresh child process per case (`--child NAME`), so
//! that no earlier case's heap is counted: VmHWM of /proc/self/status, reset once the case's
//! input is made.

mod inputs;
mod measure;

use std::process::Command;

use mxcd_imaging::{ANIMATED_TYPE, Limits, Method, Spec, generate, pregenerate};

use inputs::*;
use measure::*;

const S320: Spec = Spec {
    width: 320,
    height: 240,
    method: Method::Scale,
};
const S800: Spec = Spec {
    width: 800,
    height: 600,
    method: Method::Scale,
};
const CROP96: Spec = Spec {
    width: 96,
    height: 96,
    method: Method::Crop,
};

/// The cases run in child processes: concurrency (with peak RSS), then hostile inputs.
const CHILDREN: [&str; 5] = [
    "8x320",
    "8x800",
    "8xpregenerate",
    "progressive-2x4",
    "progressive-8",
];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    if let Some(i) = args.iter().position(|a| a == "--child") {
        return child(&args[i + 1], quick);
    }
    // `--write-jpeg PATH WIDTH HEIGHT [progressive]`: writes one of the photo-like inputs, for
    // benchmarks of the whole server (bench/thumbnails.sh).
    if let Some(i) = args.iter().position(|a| a == "--write-jpeg") {
        let dim = |k: usize| args[i + k].parse::<u32>().expect("width and height");
        let progressive = args.get(i + 4).is_some_and(|a| a == "progressive");
        std::fs::write(&args[i + 1], photo_jpeg(dim(2), dim(3), progressive)).expect("write");
        return;
    }
    let runs = if quick { 5 } else { 40 };
    let limits = Limits::default();
    let sizes = default_sizes();

    let small = photo_jpeg(2000, 1500, false);
    let medium = photo_jpeg(4000, 3000, false);
    let large = photo_jpeg(6000, 4000, false);
    println!(
        "inputs (baseline JPEG, quality 80): 2000x1500 {} KB, 4000x3000 {} KB, 6000x4000 {} KB",
        kb(&small),
        kb(&medium),
        kb(&large),
    );

    println!("\n== pre-generation of the 5 default sizes (one thread, {runs} runs)");
    let out = pregenerate(&small, "image/jpeg", &sizes, &limits).unwrap();
    let total: usize = out.iter().map(|t| t.bytes.len()).sum();
    println!(
        "  2000x1500 gives {} JPEG thumbnails, {} KB in all",
        out.len(),
        total / 1024
    );
    report("  2000x1500", runs, || {
        pregenerate(&small, "image/jpeg", &sizes, &limits)
    });
    report("  4000x3000", runs, || {
        pregenerate(&medium, "image/jpeg", &sizes, &limits)
    });

    println!("\n== one size per call (generate, JPEG out, one thread)");
    for s in &sizes {
        let label = format!("  2000x1500 -> {}x{} {}", s.width, s.height, s.method);
        report(&label, runs, || {
            generate(&small, "image/jpeg", *s, "image/jpeg", false, &limits)
        });
    }

    println!("\n== dynamic 320x240 scale (one thread)");
    for (name, src) in [
        ("2000x1500", &small),
        ("4000x3000", &medium),
        ("6000x4000", &large),
    ] {
        for ty in ["image/png", "image/jpeg"] {
            let label = format!("  {name} -> {ty}");
            report(&label, runs, || {
                generate(src, "image/jpeg", S320, ty, false, &limits)
            });
        }
    }

    let anim_runs = if quick { 2 } else { 8 };
    for (title, gif) in [
        (
            "480x270 GIF, 60 frames of 40 ms, every pixel changing",
            animated_gif(480, 270, 60, false),
        ),
        (
            "800x600 GIF, 60 frames of noise (worst case)",
            animated_gif(800, 600, 60, true),
        ),
    ] {
        println!("\n== {title}: {} KB", kb(&gif));
        let made = pregenerate(&gif, "image/gif", &sizes, &limits).unwrap();
        let animated: Vec<_> = made.iter().filter(|t| t.animated).collect();
        let kept: Vec<usize> = animated.iter().map(|t| frame_count(&t.bytes)).collect();
        println!(
            "  pregenerate makes {} stills and {} animated WebP, frames kept: {kept:?}",
            made.len() - animated.len(),
            animated.len(),
        );
        report("  pregenerate", anim_runs, || {
            pregenerate(&gif, "image/gif", &sizes, &limits)
        });
        report("  dynamic 96x96 crop, animated", anim_runs, || {
            generate(&gif, "image/gif", CROP96, ANIMATED_TYPE, true, &limits)
        });
        report("  dynamic 96x96 crop, still", anim_runs, || {
            generate(&gif, "image/gif", CROP96, "image/png", false, &limits)
        });
    }

    println!("\n== concurrent requests on 6000x4000 JPEGs (PNG out), each case in a fresh process");
    let hostile = hostile_inputs().into_iter().map(|(name, ..)| name);
    let hostile_names: Vec<String> = hostile.map(str::to_owned).collect();
    for name in CHILDREN
        .iter()
        .map(|s| (*s).to_owned())
        .chain(hostile_names.iter().cloned())
    {
        if name == hostile_names[0] {
            println!("\n== hostile inputs: pregenerate, then an animated 96x96 generate");
        }
        let exe = std::env::current_exe().unwrap();
        let mut cmd = Command::new(exe);
        cmd.args(["--child", &name]);
        if quick {
            cmd.arg("--quick");
        }
        let out = cmd.output().unwrap();
        print!("{}", String::from_utf8_lossy(&out.stdout));
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
    }
}

/// One memory-measured case, in its own process.
fn child(name: &str, quick: bool) {
    let limits = Limits::default();
    let sizes = default_sizes();
    let rounds = if quick { 1 } else { 4 };
    if let Some((label, bytes, media_type)) = hostile_inputs().into_iter().find(|h| h.0 == name) {
        return hostile(label, &bytes, media_type, &sizes, &limits);
    }
    let progressive = name.starts_with("progressive");
    let large = &photo_jpeg(6000, 4000, progressive);
    let limits = &limits;
    let dynamic = |spec| move || generate(large, "image/jpeg", spec, "image/png", false, limits);
    match name {
        "8x320" => concurrent("  8 threads, dynamic 320x240", 8, rounds, dynamic(S320)),
        "8x800" => concurrent("  8 threads, dynamic 800x600", 8, rounds, dynamic(S800)),
        "8xpregenerate" => concurrent("  8 threads, pregenerate 5 sizes", 8, rounds, || {
            pregenerate(large, "image/jpeg", &sizes, limits)
        }),
        // A pool the size of the cores, as the server will have: 8 requests, 2 at a time.
        "progressive-2x4" => {
            println!(
                "  (progressive 6000x4000 JPEG, {} KB: libjpeg keeps every coefficient)",
                kb(large)
            );
            concurrent(
                "  progressive, 2 threads x 4 (320x240)",
                2,
                4 * rounds,
                dynamic(S320),
            )
        }
        "progressive-8" => concurrent(
            "  progressive, 8 threads (320x240)",
            8,
            rounds,
            dynamic(S320),
        ),
        other => eprintln!("unknown case {other}"),
    }
}

fn hostile(label: &str, bytes: &[u8], media_type: &str, sizes: &[Spec], limits: &Limits) {
    let base = reset_peak();
    let cpu = thread_cpu();
    let start = std::time::Instant::now();
    let pre = pregenerate(bytes, media_type, sizes, limits).map(|v| v.len());
    let dynamic = generate(bytes, media_type, CROP96, ANIMATED_TYPE, true, limits);
    let took = start.elapsed();
    let cpu = thread_cpu() - cpu;
    let outcome = |r: Result<String, mxcd_imaging::ImagingError>| match r {
        Ok(s) => s,
        Err(e) => format!("{:?} error", e.kind()),
    };
    println!(
        "  {label:<36} {:>7.1} ms (cpu {:>4.0} ms)  +{:>5.1} MiB peak   {}; {}",
        ms(took),
        ms(cpu),
        mib(peak().saturating_sub(base)),
        outcome(pre.map(|n| format!("{n} thumbnails"))),
        outcome(dynamic.map(|t| if t.animated { "animated" } else { "still" }.to_owned())),
    );
}

fn default_sizes() -> Vec<Spec> {
    [
        (32, 32, Method::Crop),
        (96, 96, Method::Crop),
        (320, 240, Method::Scale),
        (640, 480, Method::Scale),
        (800, 600, Method::Scale),
    ]
    .map(|(width, height, method)| Spec {
        width,
        height,
        method,
    })
    .to_vec()
}
