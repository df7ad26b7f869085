//! Timing, CPU time and peak-memory helpers.

use std::time::{Duration, Instant};

/// Wall-clock median and p95 over `runs` calls, and the mean CPU time of this thread per call.
pub(crate) fn report<T, E: std::fmt::Debug>(
    label: &str,
    runs: usize,
    mut f: impl FnMut() -> Result<T, E>,
) {
    std::hint::black_box(f().unwrap()); // warm-up
    let cpu_start = thread_cpu();
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(f().unwrap());
            start.elapsed()
        })
        .collect();
    let cpu = (thread_cpu() - cpu_start) / runs as u32;
    times.sort();
    let p95 = times[(times.len() * 95).div_ceil(100) - 1];
    println!(
        "{label:<44} median {:>7.1} ms   p95 {:>7.1} ms   cpu {:>7.1} ms",
        ms(times[times.len() / 2]),
        ms(p95),
        ms(cpu)
    );
}

/// `threads` threads each making `per_thread` calls at once: throughput and peak RSS.
pub(crate) fn concurrent<T, E: std::fmt::Debug>(
    label: &str,
    threads: usize,
    per_thread: usize,
    f: impl Fn() -> Result<T, E> + Sync,
) {
    let base = reset_peak();
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| (0..per_thread).for_each(|_| drop(f().unwrap())));
        }
    });
    let took = start.elapsed();
    let n = threads * per_thread;
    println!(
        "{label:<44} {n:>3} in {:>6.0} ms ({:>5.1}/s); peak RSS {:>6.1} MiB (+{:.1} over {:.1})",
        ms(took),
        n as f64 / took.as_secs_f64(),
        mib(peak()),
        mib(peak().saturating_sub(base)),
        mib(base),
    );
}

/// User + system CPU time of the calling thread, from /proc (10 ms ticks: only sums of many
/// calls mean something).
pub(crate) fn thread_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    let fields: Vec<i64> = stat
        .rsplit_once(')')
        .map(|(_, rest)| {
            rest.split_whitespace()
                .filter_map(|f| f.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    // After the name, the state is skipped (not a number): utime and stime are then the 11th
    // and 12th numbers.
    let ticks = fields.get(10).copied().unwrap_or(0) + fields.get(11).copied().unwrap_or(0);
    Duration::from_millis(u64::try_from(ticks).unwrap_or(0) * 10)
}

/// Resets VmHWM to the current RSS and returns that RSS in bytes.
pub(crate) fn reset_peak() -> u64 {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    status_kib("VmRSS:") * 1024
}

pub(crate) fn peak() -> u64 {
    status_kib("VmHWM:") * 1024
}

fn status_kib(key: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub(crate) fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

pub(crate) fn kb(b: &[u8]) -> usize {
    b.len() / 1024
}
