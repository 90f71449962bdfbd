//! A minimal HTTP/1.1 client over tokio for etcd's JSON gateway: POST a JSON body, read one
//! response with `Content-Length` or chunked framing, keep the connection alive.
//!
//! Why not hyper/reqwest: the gateway is one request shape on loopback-like links; a small
//! parser we can unit-test keeps the build light on a 2-core machine and lets every error be
//! classified by whether the request was sent (see `outcome`).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::targets::outcome::OpError;

/// A parsed response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Why bytes are not an HTTP response.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HttpError {
    #[error("bad HTTP status line {0:?}")]
    StatusLine(String),
    #[error("bad HTTP header line {0:?}")]
    Header(String),
    #[error("bad chunk size {0:?}")]
    ChunkSize(String),
    #[error("HTTP response larger than {0} bytes")]
    TooLarge(usize),
}

const MAX_RESPONSE: usize = 64 << 20;

/// Formats a POST request with a JSON body.
pub fn request(host: &str, path: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: keep-alive\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

/// Parses one response from the front of `buf`: `Ok(None)` if more bytes are needed.
/// A response without `Content-Length` or chunking is not supported (the gateway always
/// sends one of them), so it reads as incomplete until the peer closes.
pub fn parse_response(buf: &[u8]) -> Result<Option<(Response, usize)>, HttpError> {
    if buf.len() > MAX_RESPONSE {
        return Err(HttpError::TooLarge(MAX_RESPONSE));
    }
    let Some(head_end) = find(buf, b"\r\n\r\n", 0) else {
        return Ok(None);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let (Some(version), Some(code)) = (parts.next(), parts.next()) else {
        return Err(HttpError::StatusLine(status_line.to_string()));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(HttpError::StatusLine(status_line.to_string()));
    }
    let status: u16 = code
        .parse()
        .map_err(|_| HttpError::StatusLine(status_line.to_string()))?;
    let mut length = None;
    let mut chunked = false;
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| HttpError::Header(line.to_string()))?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(
                value
                    .parse::<usize>()
                    .map_err(|_| HttpError::Header(line.to_string()))?,
            );
        } else if name.eq_ignore_ascii_case("transfer-encoding")
            && value.to_ascii_lowercase().contains("chunked")
        {
            chunked = true;
        }
    }
    let start = head_end + 4;
    if chunked {
        return parse_chunked(buf, start)
            .map(|r| r.map(|(body, n)| (Response { status, body }, n)));
    }
    let n = length.unwrap_or(0);
    if n > MAX_RESPONSE {
        return Err(HttpError::TooLarge(MAX_RESPONSE));
    }
    if buf.len() < start + n {
        return Ok(None);
    }
    Ok(Some((
        Response {
            status,
            body: buf[start..start + n].to_vec(),
        },
        start + n,
    )))
}

fn find(buf: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    buf.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

fn parse_chunked(buf: &[u8], mut at: usize) -> Result<Option<(Vec<u8>, usize)>, HttpError> {
    let mut body = Vec::new();
    loop {
        let Some(end) = find(buf, b"\r\n", at) else {
            return Ok(None);
        };
        let line = String::from_utf8_lossy(&buf[at..end]);
        let size_text = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| HttpError::ChunkSize(line.to_string()))?;
        if size > MAX_RESPONSE {
            return Err(HttpError::TooLarge(MAX_RESPONSE));
        }
        at = end + 2;
        if size == 0 {
            // Trailers (none expected) end with an empty line.
            let Some(t) = find(buf, b"\r\n", at) else {
                return Ok(None);
            };
            if t == at {
                return Ok(Some((body, at + 2)));
            }
            let Some(t_end) = find(buf, b"\r\n\r\n", at) else {
                return Ok(None);
            };
            return Ok(Some((body, t_end + 4)));
        }
        if buf.len() < at + size + 2 {
            return Ok(None);
        }
        body.extend_from_slice(&buf[at..at + size]);
        at += size + 2;
    }
}

/// A kept-alive connection to one HTTP server. After any error the connection is dropped
/// and the next request reconnects.
pub struct HttpConn {
    addr: String,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
    timeout: Duration,
}

impl HttpConn {
    pub fn new(addr: impl Into<String>, timeout: Duration) -> HttpConn {
        HttpConn {
            addr: addr.into(),
            stream: None,
            buf: Vec::new(),
            timeout,
        }
    }

    /// POSTs `body` to `path`. Errors before the request was written are `fail`; after,
    /// `info`.
    pub async fn post(&mut self, path: &str, body: &[u8]) -> Result<Response, OpError> {
        let timeout = self.timeout;
        let result = tokio::time::timeout(timeout, self.post_inner(path, body)).await;
        let result = match result {
            Err(_) => Err(OpError::timeout(self.stream.is_some())),
            Ok(r) => r,
        };
        if result.is_err() {
            self.stream = None;
            self.buf.clear();
        }
        result
    }

    async fn post_inner(&mut self, path: &str, body: &[u8]) -> Result<Response, OpError> {
        if self.stream.is_none() {
            let s = TcpStream::connect(&self.addr)
                .await
                .map_err(|e| OpError::io(&e, false))?;
            let _ = s.set_nodelay(true);
            self.stream = Some(s);
            self.buf.clear();
        }
        let req = request(&self.addr, path, body);
        let Some(stream) = self.stream.as_mut() else {
            return Err(OpError::not_applied("io", "no connection"));
        };
        stream
            .write_all(&req)
            .await
            .map_err(|e| OpError::io(&e, true))?;
        loop {
            match parse_response(&self.buf) {
                Ok(Some((resp, used))) => {
                    self.buf.drain(..used);
                    return Ok(resp);
                }
                Ok(None) => {}
                Err(e) => return Err(OpError::unknown("protocol", e.to_string())),
            }
            let mut chunk = [0u8; 8192];
            let n = stream
                .read(&mut chunk)
                .await
                .map_err(|e| OpError::io(&e, true))?;
            if n == 0 {
                return Err(OpError::unknown(
                    "connection-closed",
                    "server closed the connection before replying",
                ));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_a_post_with_its_length() {
        let r = String::from_utf8(request("10.0.0.1:2379", "/v3/kv/put", b"{}")).unwrap();
        assert!(r.starts_with("POST /v3/kv/put HTTP/1.1\r\n"));
        assert!(r.contains("Content-Length: 2\r\n"));
        assert!(r.ends_with("\r\n\r\n{}"));
    }

    #[test]
    fn parses_content_length_responses_and_waits_for_the_body() {
        let raw = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"a\":1}";
        for cut in 0..raw.len() {
            assert_eq!(parse_response(&raw[..cut]).unwrap(), None, "cut at {cut}");
        }
        let (r, used) = parse_response(raw).unwrap().unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.body, b"{\"a\":1}");
        assert_eq!(used, raw.len());
    }

    #[test]
    fn parses_chunked_responses() {
        let raw = b"HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\nHTTP/1.1";
        let (r, used) = parse_response(raw).unwrap().unwrap();
        assert_eq!(r.status, 503);
        assert_eq!(r.body, b"{\"a\":1}");
        assert_eq!(&raw[used..], b"HTTP/1.1");
        assert_eq!(parse_response(&raw[..raw.len() - 12]).unwrap(), None);
    }

    #[test]
    fn malformed_responses_are_errors() {
        assert!(matches!(
            parse_response(b"SMTP 220 hi\r\n\r\n"),
            Err(HttpError::StatusLine(_))
        ));
        assert!(matches!(
            parse_response(b"HTTP/1.1 200 OK\r\nno-colon-here\r\n\r\n"),
            Err(HttpError::Header(_))
        ));
        assert!(matches!(
            parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
            Err(HttpError::ChunkSize(_))
        ));
    }
}
