//! The response headers Synapse sets on media downloads (reference §4.6).

use axum::http::{HeaderMap, HeaderValue, header};

/// Types served `inline`; everything else is an `attachment` (Synapse's allow-list).
const INLINE: [&str; 26] = [
    "text/css",
    "text/plain",
    "text/csv",
    "application/json",
    "application/ld+json",
    "image/jpeg",
    "image/gif",
    "image/png",
    "image/apng",
    "image/webp",
    "image/avif",
    "video/mp4",
    "video/webm",
    "video/ogg",
    "video/quicktime",
    "audio/mp4",
    "audio/webm",
    "audio/aac",
    "audio/mpeg",
    "audio/ogg",
    "audio/wave",
    "audio/wav",
    "audio/x-wav",
    "audio/x-pn-wav",
    "audio/flac",
    "audio/x-flac",
];

/// Types that get `; charset=UTF-8` appended when stored without parameters.
const TEXT: [&str; 11] = [
    "text/css",
    "text/csv",
    "text/html",
    "text/calendar",
    "text/plain",
    "text/javascript",
    "application/json",
    "application/ld+json",
    "application/rtf",
    "image/svg+xml",
    "text/xml",
];

/// The `Content-Type` to send for a stored media type.
pub(super) fn content_type(stored: Option<&str>) -> String {
    let t = stored
        .filter(|t| !t.is_empty())
        .unwrap_or("application/octet-stream");
    if TEXT.contains(&t.to_ascii_lowercase().as_str()) {
        format!("{t}; charset=UTF-8")
    } else {
        t.to_owned()
    }
}

/// The `Content-Disposition` for a media type and optional file name.
pub(super) fn content_disposition(content_type: &str, filename: Option<&str>) -> String {
    let base = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let kind = if INLINE.contains(&base.as_str()) {
        "inline"
    } else {
        "attachment"
    };
    match filename.filter(|f| !f.is_empty()) {
        None => kind.to_owned(),
        Some(f)
            if f.bytes()
                .all(|b| (33..=126).contains(&b) && !b"()<>@,;:\\\"/[]?={}".contains(&b)) =>
        {
            format!("{kind}; filename={f}")
        }
        Some(f) => format!("{kind}; filename*=utf-8''{}", percent_encode(f)),
    }
}

/// Python's `urllib.parse.quote(s)`: unreserved characters and `/` stay, the rest is %XX.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"_.-~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The fixed security and caching headers of every media download.
pub(super) fn set_download_headers(h: &mut HeaderMap) {
    let fixed: [(&str, &str); 3] = [
        (
            "content-security-policy",
            "sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf; \
             style-src 'unsafe-inline'; media-src 'self'; object-src 'self';",
        ),
        ("x-content-security-policy", "sandbox;"),
        ("referrer-policy", "no-referrer"),
    ];
    for (k, v) in fixed {
        h.insert(k, HeaderValue::from_static(v));
    }
    set_file_headers(h);
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
}

/// The headers Synapse sends with any media file, thumbnails included: CORP, caching, and no
/// indexing (`add_file_headers` and `set_corp_headers`).
pub(super) fn set_file_headers(h: &mut HeaderMap) {
    let fixed: [(&str, &str); 4] = [
        ("cross-origin-resource-policy", "cross-origin"),
        (
            "cache-control",
            "public,max-age=86400,s-maxage=0,proxy-revalidate",
        ),
        ("x-robots-tag", "noindex, nofollow, noarchive, noimageindex"),
        ("etag", "1"),
    ];
    for (k, v) in fixed {
        h.insert(k, HeaderValue::from_static(v));
    }
}

/// `If-None-Match` naming the constant ETag `1` (or `*`).
pub(super) fn etag_matches(headers: &HeaderMap) -> bool {
    headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .map(str::trim)
                .any(|t| matches!(t, "1" | "\"1\"" | "W/\"1\"" | "*"))
        })
}

/// A header value from text we built; anything unrepresentable degrades to a safe constant.
pub(super) fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"))
}

/// A parsed single `Range: bytes=…` request, resolved against the size.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum RangeRequest {
    /// No usable range: serve everything (absent, not bytes, or several ranges).
    Full,
    /// Serve `start..end` (end exclusive).
    Part(u64, u64),
    /// 416.
    Unsatisfiable,
}

pub(super) fn parse_range(value: Option<&str>, size: u64) -> RangeRequest {
    let Some(spec) = value.and_then(|v| v.trim().strip_prefix("bytes=")) else {
        return RangeRequest::Full;
    };
    if spec.contains(',') {
        return RangeRequest::Full;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return RangeRequest::Unsatisfiable;
    };
    let (a, b) = (a.trim(), b.trim());
    let parse = |s: &str| s.parse::<u64>().ok();
    let range = match (a.is_empty(), b.is_empty()) {
        (true, false) => parse(b)
            .filter(|n| *n > 0)
            .map(|n| (size.saturating_sub(n), size)),
        (false, true) => parse(a).map(|s| (s, size)),
        (false, false) => match (parse(a), parse(b)) {
            (Some(s), Some(e)) if s <= e => Some((s, e.saturating_add(1).min(size))),
            _ => None,
        },
        (true, true) => None,
    };
    match range {
        Some((s, e)) if s < size && s < e => RangeRequest::Part(s, e),
        _ => RangeRequest::Unsatisfiable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_type_charset_rule() {
        assert_eq!(
            content_type(Some("text/plain")),
            "text/plain; charset=UTF-8"
        );
        assert_eq!(content_type(Some("TEXT/HTML")), "TEXT/HTML; charset=UTF-8");
        assert_eq!(
            content_type(Some("text/plain; charset=latin1")),
            "text/plain; charset=latin1"
        );
        assert_eq!(content_type(Some("image/png")), "image/png");
        assert_eq!(content_type(Some("")), "application/octet-stream");
        assert_eq!(content_type(None), "application/octet-stream");
    }

    #[test]
    fn disposition_matches_synapse() {
        assert_eq!(
            content_disposition("image/png", Some("out.png")),
            "inline; filename=out.png"
        );
        assert_eq!(
            content_disposition("image/png", Some("☃.png")),
            "inline; filename*=utf-8''%E2%98%83.png"
        );
        assert_eq!(
            content_disposition("text/html", Some("a b.html")),
            "attachment; filename*=utf-8''a%20b.html"
        );
        assert_eq!(content_disposition("image/svg+xml", None), "attachment");
        assert_eq!(
            content_disposition("text/plain; charset=UTF-8", None),
            "inline"
        );
        assert_eq!(
            content_disposition("application/pdf", Some("x/y")),
            "attachment; filename*=utf-8''x/y"
        );
    }

    #[test]
    fn ranges() {
        use RangeRequest::*;
        let n = 100;
        assert_eq!(parse_range(None, n), Full);
        assert_eq!(parse_range(Some("bytes=0-9"), n), Part(0, 10));
        assert_eq!(parse_range(Some("bytes=10-19"), n), Part(10, 20));
        assert_eq!(parse_range(Some("bytes=-5"), n), Part(95, 100));
        assert_eq!(parse_range(Some("bytes=90-"), n), Part(90, 100));
        assert_eq!(parse_range(Some("bytes=90-500"), n), Part(90, 100));
        assert_eq!(parse_range(Some("bytes=-500"), n), Part(0, 100));
        assert_eq!(parse_range(Some("bytes=100-"), n), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=5-1"), n), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=-0"), n), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=x-y"), n), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=0-1,5-6"), n), Full);
        assert_eq!(parse_range(Some("items=0-1"), n), Full);
        assert_eq!(parse_range(Some("bytes=0-0"), 0), Unsatisfiable);
    }
}
