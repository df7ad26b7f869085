//! The `multipart/mixed` bodies of the federation media endpoints (reference §4.9): written
//! byte-exactly as Synapse writes them (with RFC 2046's closing delimiter), and read as a
//! stream, the file part never held whole.

use bytes::Bytes;
use futures_util::{Stream, StreamExt as _, TryStreamExt as _, stream::BoxStream};
use rand::RngExt as _;

use super::FederationError;

/// A random boundary: 32 lowercase hex characters, like Synapse's `uuid4().hex`.
pub fn new_boundary() -> String {
    let bytes: [u8; 16] = rand::rng().random();
    hex::encode(bytes)
}

/// Removes CR and LF from a header value and escapes `"` (as Synapse does).
fn clean(value: &str) -> String {
    value
        .chars()
        .filter(|c| *c != '\r' && *c != '\n')
        .collect::<String>()
        .replace('"', "\\\"")
}

/// The framing around a file of `file_len` bytes, and the total length.
pub struct Framing {
    pub head: Bytes,
    pub tail: Bytes,
    pub content_length: u64,
}

/// `CRLF--B CRLF Content-Type: application/json CRLF CRLF {} CRLF--B CRLF Content-Type: <type>
/// CRLF Content-Disposition: <disposition> CRLF CRLF <file> CRLF--B--CRLF`.
pub fn framing(boundary: &str, media_type: &str, disposition: &str, file_len: u64) -> Framing {
    const JSON: &str = "{}";
    let type_line = format!("Content-Type: {}", clean(media_type));
    let disposition_line = format!("Content-Disposition: {}", clean(disposition));
    let head = format!(
        "\r\n--{boundary}\r\nContent-Type: application/json\r\n\r\n{JSON}\r\n--{boundary}\r\n\
         {type_line}\r\n{disposition_line}\r\n\r\n"
    );
    let tail = format!("\r\n--{boundary}--\r\n");
    let content_length = (head.len() + tail.len()) as u64 + file_len;
    Framing {
        head: Bytes::from(head),
        tail: Bytes::from(tail),
        content_length,
    }
}

/// The file part of a remote's answer.
pub enum FilePart {
    /// The bytes follow in the body.
    Inline {
        media_type: Option<String>,
        disposition: Option<String>,
        body: BoxStream<'static, Result<Bytes, std::io::Error>>,
    },
    /// The file is to be fetched from this URL.
    Location(String),
}

/// The boundary of a `multipart/mixed` Content-Type.
pub fn boundary_of(content_type: &str) -> Option<String> {
    let (kind, _) = content_type.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/mixed") {
        return None;
    }
    let b = content_type
        .split(';')
        .skip(1)
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))?
        .1
        .trim()
        .trim_matches('"');
    (!b.is_empty()).then(|| b.to_owned())
}

/// Largest JSON part accepted (it is `{}` in practice).
const MAX_JSON_PART: usize = 64 * 1024;

/// Reads the JSON part and the headers of the file part; the file bytes stay in the stream.
pub async fn read<S>(body: S, boundary: &str) -> Result<FilePart, FederationError>
where
    S: Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
{
    let malformed = |e: multer::Error| match into_io(e).downcast::<FederationError>() {
        Ok(e) => e,
        Err(io) => FederationError::Malformed(io.to_string()),
    };
    let mut parts = multer::Multipart::new(body, boundary.to_owned());
    let mut json = parts
        .next_field()
        .await
        .map_err(malformed)?
        .ok_or_else(|| FederationError::Malformed("the multipart body has no parts".into()))?;
    let mut read = 0;
    while let Some(chunk) = json.chunk().await.map_err(malformed)? {
        read += chunk.len();
        if read > MAX_JSON_PART {
            return Err(FederationError::Malformed(
                "the JSON part is too large".into(),
            ));
        }
    }
    drop(json);
    let file = parts
        .next_field()
        .await
        .map_err(malformed)?
        .ok_or_else(|| FederationError::Malformed("the multipart body has no file part".into()))?;
    let header = |name: http::HeaderName| {
        file.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    if let Some(location) = header(http::header::LOCATION) {
        return Ok(FilePart::Location(location));
    }
    Ok(FilePart::Inline {
        media_type: header(http::header::CONTENT_TYPE),
        disposition: header(http::header::CONTENT_DISPOSITION),
        // The parts after the file (the closing delimiter) are never read: a body ending
        // without it (as ruma writes them) is accepted, as Synapse does.
        body: file.map_err(into_io).boxed(),
    })
}

/// A parse error as an I/O error; a failure of the underlying stream (a limit, a timeout, a
/// broken connection) comes out as the error the stream gave.
fn into_io(e: multer::Error) -> std::io::Error {
    match e {
        multer::Error::StreamReadFailed(inner) => match inner.downcast::<std::io::Error>() {
            Ok(io) => *io,
            Err(other) => std::io::Error::other(other),
        },
        other => std::io::Error::other(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream_of(
        body: Vec<u8>,
        chunk: usize,
    ) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
        let chunks: Vec<Result<Bytes, std::io::Error>> = body
            .chunks(chunk)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        futures_util::stream::iter(chunks)
    }

    async fn collect(body: BoxStream<'static, Result<Bytes, std::io::Error>>) -> Vec<u8> {
        body.try_collect::<Vec<Bytes>>().await.unwrap().concat()
    }

    #[test]
    fn framing_is_synapses() {
        let b = "0123456789abcdef0123456789abcdef";
        let f = framing(b, "text/plain", "inline; filename=test_upload", 14);
        let head = std::str::from_utf8(&f.head).unwrap();
        assert_eq!(
            format!(
                "{head}file_to_stream{}",
                std::str::from_utf8(&f.tail).unwrap()
            ),
            format!(
                "\r\n--{b}\r\nContent-Type: application/json\r\n\r\n{{}}\r\n--{b}\r\n\
                 Content-Type: text/plain\r\nContent-Disposition: inline; filename=test_upload\
                 \r\n\r\nfile_to_stream\r\n--{b}--\r\n"
            )
        );
        assert_eq!(
            f.content_length,
            14 + 2
                + "Content-Type: text/plain".len() as u64
                + "Content-Disposition: inline; filename=test_upload".len() as u64
                + 156
        );
        assert_eq!(new_boundary().len(), 32);
        assert!(new_boundary().bytes().all(|c| c.is_ascii_hexdigit()));
    }

    #[tokio::test]
    async fn reads_what_it_writes_in_any_chunking() {
        let b = new_boundary();
        let file: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
        let f = framing(&b, "image/png", "inline; filename=a.png", file.len() as u64);
        let body = [f.head.to_vec(), file.clone(), f.tail.to_vec()].concat();
        for chunk in [1, 7, 100, 100_000] {
            match read(stream_of(body.clone(), chunk), &b).await.unwrap() {
                FilePart::Inline {
                    media_type,
                    disposition,
                    body,
                } => {
                    assert_eq!(media_type.as_deref(), Some("image/png"));
                    assert_eq!(disposition.as_deref(), Some("inline; filename=a.png"));
                    assert_eq!(collect(body).await, file);
                }
                FilePart::Location(_) => panic!("inline expected"),
            }
        }
    }

    #[tokio::test]
    async fn location_and_ruma_style_endings() {
        let b = "abcdef";
        let body = format!(
            "--{b}\r\nContent-Type: application/json\r\n\r\n{{}}\r\n--{b}\r\n\
             Location: https://cdn.example/x\r\n\r\n\r\n--{b}--\r\n"
        );
        match read(stream_of(body.into_bytes(), 3), b).await.unwrap() {
            FilePart::Location(l) => assert_eq!(l, "https://cdn.example/x"),
            FilePart::Inline { .. } => panic!("location expected"),
        }
        // No closing `--`, as ruma's server writes it.
        let body = format!(
            "\r\n--{b}\r\nContent-Type: application/json\r\n\r\n{{}}\r\n--{b}\r\n\
             Content-Type: text/plain\r\n\r\nhello\r\n--{b}"
        );
        let FilePart::Inline { body, .. } = read(stream_of(body.into_bytes(), 4), b).await.unwrap()
        else {
            panic!("inline expected")
        };
        assert_eq!(collect(body).await, b"hello");
    }

    #[tokio::test]
    async fn truncated_or_garbage_bodies_fail() {
        let b = "abcdef";
        let truncated = format!(
            "\r\n--{b}\r\nContent-Type: application/json\r\n\r\n{{}}\r\n--{b}\r\n\
             Content-Type: text/plain\r\n\r\nhello wor"
        );
        let FilePart::Inline { body, .. } =
            read(stream_of(truncated.into_bytes(), 4), b).await.unwrap()
        else {
            panic!("inline expected")
        };
        assert!(body.try_collect::<Vec<Bytes>>().await.is_err());
        assert!(
            read(stream_of(b"not multipart at all".to_vec(), 4), b)
                .await
                .is_err()
        );
        assert!(boundary_of("multipart/mixed; boundary=xyz").is_some());
        assert!(boundary_of("text/plain; boundary=xyz").is_none());
        assert!(boundary_of("multipart/mixed").is_none());
    }
}
