//! Decoding request bodies the way the reference does (`api.md` §1.4).
//!
//! 1. gzip, only when `Content-Encoding` is exactly `gzip` (the header name is
//!    case-insensitive, the value is not);
//! 2. the charset of `Content-Type` (UTF-8 by default; the media type itself is never
//!    checked);
//! 3. Python's JSON dialect (`NaN`, `Infinity`, big integers, duplicate keys).
//!
//! Failures become `400 parseError` with `details.decode` holding Python's `repr` of the
//! error, as the reference reports it. Two deliberate differences: an unknown charset is a
//! `400` with a `LookupError` detail instead of the reference's `500`, and bodies are
//! bounded ([`MAX_BODY`] on the wire, [`MAX_DECODED`] after decompression) so a small gzip
//! bomb cannot exhaust memory; the reference has no limit.

use std::io::Read;

use actix_web::HttpRequest;
use actix_web::http::header;
use ichnaea_core::json::{self, BodyError, JsonValue, py_repr_str};

use crate::error::{ApiError, ParseDetails};

/// The largest request body accepted on the wire: 20 MiB (NeoStumbler's largest batches
/// are around 1 MiB gzipped).
pub const MAX_BODY: usize = 20 * 1024 * 1024;

/// The largest body accepted after gzip decompression: 100 MiB.
pub const MAX_DECODED: u64 = 100 * 1024 * 1024;

/// Decodes and parses a request body; `Ok(None)` when it is empty (which the API views
/// treat as `{}`, remembering that it was empty).
pub fn decode(req: &HttpRequest, bytes: &[u8]) -> Result<Option<JsonValue>, ApiError> {
    let is_gzip = req
        .headers()
        .get(header::CONTENT_ENCODING)
        .is_some_and(|v| v.as_bytes() == b"gzip");
    let decompressed;
    let bytes = if is_gzip {
        decompressed = gunzip(bytes).map_err(decode_error)?;
        &decompressed[..]
    } else {
        bytes
    };
    let charset = charset(req);
    json::parse_body(bytes, charset.as_deref()).map_err(|e| match e {
        BodyError::UnknownCharset(name) => decode_error(format!(
            "LookupError({})",
            py_repr_str(&format!("unknown encoding: {name}"))
        )),
        other => decode_error(other.detail().unwrap_or_default()),
    })
}

fn decode_error(detail: String) -> ApiError {
    ApiError::ParseError(ParseDetails::Decode(detail))
}

/// The `charset` parameter of `Content-Type`, if any.
fn charset(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::CONTENT_TYPE)?.to_str().ok()?;
    value.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| value.trim().trim_matches('"').to_owned())
    })
}

/// Decompresses a gzip body; errors are rendered as the reference reports them:
/// `GZIPDecodeError(repr(exception))`.
pub fn gunzip(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let wrap = |inner: String| format!("GZIPDecodeError({})", py_repr_str(&inner));
    // Python's gzip.decompress: an empty body decompresses to an empty body.
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    if bytes.len() < 2 || bytes[..2] != [0x1f, 0x8b] {
        let magic = &bytes[..bytes.len().min(2)];
        return Err(wrap(format!(
            "BadGzipFile({})",
            py_repr_str(&format!("Not a gzipped file ({})", py_bytes_repr(magic)))
        )));
    }
    let mut out = Vec::new();
    let decoder = flate2::read::MultiGzDecoder::new(bytes);
    match decoder.take(MAX_DECODED + 1).read_to_end(&mut out) {
        Ok(_) if out.len() as u64 > MAX_DECODED => Err(wrap(format!(
            "ValueError({})",
            py_repr_str("decompressed body exceeds the size limit")
        ))),
        Ok(_) => Ok(out),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(wrap(format!(
            "EOFError({})",
            py_repr_str("Compressed file ended before the end-of-stream marker was reached")
        ))),
        Err(e) => Err(wrap(format!(
            "BadGzipFile({})",
            py_repr_str(&format!("Invalid gzip data: {e}"))
        ))),
    }
}

/// Python's `repr` of a `bytes` value.
fn py_bytes_repr(bytes: &[u8]) -> String {
    let quote = if bytes.contains(&b'\'') && !bytes.contains(&b'"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::from("b");
    out.push(quote);
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b if b == quote as u8 => {
                out.push('\\');
                out.push(quote);
            }
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push(quote);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn detail(r: Result<Option<JsonValue>, ApiError>) -> String {
        match r {
            Err(ApiError::ParseError(ParseDetails::Decode(d))) => d,
            other => panic!("expected a decode error, got {other:?}"),
        }
    }

    #[test]
    fn gzip_errors_read_like_python() {
        let req = TestRequest::default()
            .insert_header(("Content-Encoding", "gzip"))
            .to_http_request();
        assert_eq!(
            detail(decode(&req, b"invalid")),
            r#"GZIPDecodeError('BadGzipFile("Not a gzipped file (b\'in\')")')"#
        );
        let full = gzip(b"{\"a\": 1}");
        assert_eq!(
            detail(decode(&req, &full[..full.len() - 6])),
            r#"GZIPDecodeError("EOFError('Compressed file ended before the end-of-stream marker was reached')")"#
        );
        assert_eq!(decode(&req, b"").unwrap(), None, "empty gzip body is empty");
        assert!(decode(&req, &full).unwrap().is_some());
    }

    #[test]
    fn gzip_only_for_the_exact_header_value() {
        let body = gzip(b"{}");
        let upper = TestRequest::default()
            .insert_header(("Content-Encoding", "GZIP"))
            .to_http_request();
        assert!(
            decode(&upper, &body).is_err(),
            "GZIP is not gzip: the bytes are not UTF-8"
        );
        let plain = TestRequest::default().to_http_request();
        assert_eq!(decode(&plain, b"").unwrap(), None);
        assert!(decode(&plain, b"{}").unwrap().is_some());
    }

    #[test]
    fn charsets_and_json_errors() {
        let latin = TestRequest::default()
            .insert_header(("Content-Type", "application/json; charset=latin-1"))
            .to_http_request();
        assert!(
            decode(&latin, b"{\"ssid\": \"caf\xe9\"}")
                .unwrap()
                .is_some()
        );
        let utf8 = TestRequest::default()
            .insert_header(("Content-Type", "text/plain; charset=\"UTF-8\""))
            .to_http_request();
        assert_eq!(
            detail(decode(&utf8, b"{\"ssid\": \"caf\xe9\"}")),
            "'utf-8' codec can't decode byte 0xe9 in position 13: invalid continuation byte"
        );
        assert_eq!(
            detail(decode(&utf8, b" ")),
            "JSONDecodeError('Expecting value: line 1 column 2 (char 1)')"
        );
        let unknown = TestRequest::default()
            .insert_header(("Content-Type", "application/json; charset=klingon"))
            .to_http_request();
        assert_eq!(
            detail(decode(&unknown, b"{}")),
            "LookupError('unknown encoding: klingon')"
        );
    }

    #[test]
    fn bytes_repr() {
        assert_eq!(py_bytes_repr(b"in"), "b'in'");
        assert_eq!(py_bytes_repr(b"\x00'"), "b\"\\x00'\"");
        assert_eq!(py_bytes_repr(b"{\n"), "b'{\\n'");
    }
}
