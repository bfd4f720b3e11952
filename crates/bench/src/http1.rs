//! A minimal HTTP/1.1 client connection for the load generator: one keep-alive TCP
//! connection, `POST` of a prepared request head plus a body, and the answer's status
//! after reading its whole body (`Content-Length`, chunked, or none for 204/304).
//!
//! Why not a general client: the load generator shares the two cores with the api it
//! measures, so its own CPU per request comes out of the api's throughput. A general
//! client builds and checks a request (URL, header map, redirect and timeout machinery)
//! for every call; here the request head is rendered once and each request is two
//! writes. Plain `http://` only: the api is measured behind no TLS terminator.

use std::time::Duration;

use anyhow::Context;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Longest wait for one answer.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Largest answer head accepted.
const MAX_HEAD: usize = 64 * 1024;

/// Where and what to `POST`: the target address and the request head up to the
/// `Content-Length` header, rendered once.
#[derive(Debug, Clone)]
pub struct Target {
    addr: String,
    head: Vec<u8>,
}

impl Target {
    /// A `POST` target for an `http://host[:port]/path?query` URL with extra headers.
    pub fn post(url: &str, headers: &[(String, String)]) -> anyhow::Result<Target> {
        let url = url::Url::parse(url).with_context(|| format!("bad URL {url:?}"))?;
        anyhow::ensure!(
            url.scheme() == "http",
            "the load generator speaks plain http:// only"
        );
        let host = url.host_str().context("the URL has no host")?;
        let port = url.port_or_known_default().unwrap_or(80);
        let mut target = url.path().to_owned();
        if let Some(query) = url.query() {
            target.push('?');
            target.push_str(query);
        }
        let mut head = format!(
            "POST {target} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        );
        for (name, value) in headers {
            anyhow::ensure!(
                !name.contains(['\r', '\n', ':']) && !value.contains(['\r', '\n']),
                "bad header {name:?}"
            );
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("Content-Length: ");
        Ok(Target {
            addr: format!("{host}:{port}"),
            head: head.into_bytes(),
        })
    }
}

/// One keep-alive connection, opened on first use and again after an error or a
/// `Connection: close`.
#[derive(Debug, Default)]
pub struct Connection {
    stream: Option<TcpStream>,
    buf: Vec<u8>,
}

impl Connection {
    /// Sends one request and returns the answer's status once its body has been read; an
    /// error drops the connection (the next call opens a new one).
    pub async fn post(&mut self, target: &Target, body: &[u8]) -> anyhow::Result<u16> {
        let result = tokio::time::timeout(TIMEOUT, self.exchange(target, body)).await;
        match result {
            Ok(Ok((status, keep))) => {
                if !keep {
                    self.stream = None;
                }
                Ok(status)
            }
            Ok(Err(e)) => {
                self.stream = None;
                Err(e)
            }
            Err(_) => {
                self.stream = None;
                anyhow::bail!("no answer within {TIMEOUT:?}")
            }
        }
    }

    async fn exchange(&mut self, target: &Target, body: &[u8]) -> anyhow::Result<(u16, bool)> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(&target.addr).await?;
            stream.set_nodelay(true)?;
            self.stream = Some(stream);
            self.buf.clear();
        }
        let Some(stream) = self.stream.as_mut() else {
            anyhow::bail!("no connection");
        };
        let mut head = Vec::with_capacity(target.head.len() + 24);
        head.extend_from_slice(&target.head);
        head.extend_from_slice(body.len().to_string().as_bytes());
        head.extend_from_slice(b"\r\n\r\n");
        stream.write_all(&head).await?;
        stream.write_all(body).await?;
        read_answer(stream, &mut self.buf).await
    }
}

/// Reads one answer from `stream` (`buf` keeps bytes read past it); returns the status
/// and whether the connection stays open.
async fn read_answer(stream: &mut TcpStream, buf: &mut Vec<u8>) -> anyhow::Result<(u16, bool)> {
    let head_end = loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            break i + 4;
        }
        anyhow::ensure!(buf.len() <= MAX_HEAD, "answer head too large");
        fill(stream, buf).await?;
    };
    let head = std::str::from_utf8(&buf[..head_end]).context("answer head is not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("bad status line {status_line:?}"))?;
    let mut length = None;
    let mut chunked = false;
    let mut keep = !status_line.starts_with("HTTP/1.0");
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse::<usize>().context("bad Content-Length")?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.eq_ignore_ascii_case("chunked");
        } else if name.eq_ignore_ascii_case("connection") {
            keep = value.eq_ignore_ascii_case("keep-alive")
                || (keep && !value.eq_ignore_ascii_case("close"));
        }
    }
    buf.drain(..head_end);
    if chunked {
        read_chunked(stream, buf).await?;
    } else if let Some(length) = length {
        while buf.len() < length {
            fill(stream, buf).await?;
        }
        buf.drain(..length);
    } else if !(status == 204 || status == 304 || (100..200).contains(&status)) {
        // The body runs to the end of the connection.
        while fill(stream, buf).await.is_ok() {}
        buf.clear();
        keep = false;
    }
    Ok((status, keep))
}

/// Consumes a chunked body (and its trailers) from `buf`, reading more as needed.
async fn read_chunked(stream: &mut TcpStream, buf: &mut Vec<u8>) -> anyhow::Result<()> {
    loop {
        let line_end = loop {
            if let Some(i) = find(buf, b"\r\n") {
                break i;
            }
            fill(stream, buf).await?;
        };
        let size_text = std::str::from_utf8(&buf[..line_end])?;
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).context("bad chunk size")?;
        buf.drain(..line_end + 2);
        if size == 0 {
            // Trailers end with an empty line.
            loop {
                let end = loop {
                    if let Some(i) = find(buf, b"\r\n") {
                        break i;
                    }
                    fill(stream, buf).await?;
                };
                buf.drain(..end + 2);
                if end == 0 {
                    return Ok(());
                }
            }
        }
        while buf.len() < size + 2 {
            fill(stream, buf).await?;
        }
        buf.drain(..size + 2);
    }
}

/// Reads more bytes into `buf`; an error at the end of the stream.
async fn fill(stream: &mut TcpStream, buf: &mut Vec<u8>) -> anyhow::Result<()> {
    let mut chunk = [0u8; 16 * 1024];
    let n = stream.read(&mut chunk).await?;
    anyhow::ensure!(n > 0, "the server closed the connection");
    buf.extend_from_slice(&chunk[..n]);
    Ok(())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    /// A server that answers every request on one connection with the next canned answer.
    async fn serve(answers: Vec<&'static str>) -> (String, tokio::task::JoinHandle<Vec<String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut seen = Vec::new();
            let mut buf = Vec::new();
            for answer in answers {
                // Read one request: head, then Content-Length bytes of body.
                let head_end = loop {
                    if let Some(i) = find(&buf, b"\r\n\r\n") {
                        break i + 4;
                    }
                    let mut chunk = [0u8; 4096];
                    let n = sock.read(&mut chunk).await.unwrap();
                    buf.extend_from_slice(&chunk[..n]);
                };
                let head = String::from_utf8(buf[..head_end].to_vec()).unwrap();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("Content-Length: "))
                    .unwrap()
                    .trim()
                    .parse()
                    .unwrap();
                while buf.len() < head_end + length {
                    let mut chunk = [0u8; 4096];
                    let n = sock.read(&mut chunk).await.unwrap();
                    buf.extend_from_slice(&chunk[..n]);
                }
                seen.push(String::from_utf8(buf[..head_end + length].to_vec()).unwrap());
                buf.drain(..head_end + length);
                sock.write_all(answer.as_bytes()).await.unwrap();
            }
            seen
        });
        (format!("http://{addr}/v2/geosubmit?key=k"), task)
    }

    #[tokio::test]
    async fn posts_and_reads_every_kind_of_body_on_one_connection() {
        let (url, server) = serve(vec![
            "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}",
            "HTTP/1.1 204 No Content\r\n\r\n",
            "HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n",
            "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 5\r\n\r\nbusy!",
        ])
        .await;
        let target =
            Target::post(&url, &[("X-Forwarded-For".into(), "81.2.69.192".into())]).unwrap();
        let mut conn = Connection::default();
        assert_eq!(conn.post(&target, b"{\"items\":[]}").await.unwrap(), 200);
        assert_eq!(conn.post(&target, b"").await.unwrap(), 204);
        assert_eq!(conn.post(&target, b"x").await.unwrap(), 400);
        assert_eq!(conn.post(&target, b"yz").await.unwrap(), 503);
        let seen = server.await.unwrap();
        assert_eq!(seen.len(), 4, "all four requests on one connection");
        assert!(
            seen[0].starts_with("POST /v2/geosubmit?key=k HTTP/1.1\r\n"),
            "{}",
            seen[0]
        );
        assert!(seen[0].contains("\r\nX-Forwarded-For: 81.2.69.192\r\n"));
        assert!(seen[0].contains("\r\nContent-Type: application/json\r\n"));
        assert!(seen[0].ends_with("Content-Length: 12\r\n\r\n{\"items\":[]}"));
        assert!(seen[3].ends_with("Content-Length: 2\r\n\r\nyz"));
    }

    #[tokio::test]
    async fn a_closed_connection_is_an_error_and_the_next_call_reconnects() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/x", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            // First connection: closed without an answer; second: answered.
            let (sock, _) = listener.accept().await.unwrap();
            drop(sock);
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut chunk = [0u8; 4096];
            let _ = sock.read(&mut chunk).await.unwrap();
            sock.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                .await
                .unwrap();
        });
        let target = Target::post(&url, &[]).unwrap();
        let mut conn = Connection::default();
        assert!(conn.post(&target, b"{}").await.is_err());
        assert_eq!(conn.post(&target, b"{}").await.unwrap(), 200);
        server.await.unwrap();
    }

    #[test]
    fn only_plain_http_urls() {
        assert!(Target::post("https://example.org/", &[]).is_err());
        assert!(Target::post("not a url", &[]).is_err());
        assert!(Target::post("http://h/x", &[("Bad\r\n".into(), "v".into())]).is_err());
    }
}
