//! A minimal Redis client: RESP2 framing over a tokio `TcpStream`, and the handful of
//! commands the Redis target needs (GET/SET/EVAL for registers, RPUSH/LRANGE inside
//! MULTI/EXEC for list-append, WAIT for semi-synchronous writes, INFO replication and
//! REPLICAOF for managing the cluster). Hand-written: a few hundred lines are cheaper to
//! build and easier to reason about (what was sent when) than a client crate.
//!
//! Wire format: <https://redis.io/docs/reference/protocol-spec/>.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::targets::outcome::OpError;

/// A RESP2 reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resp {
    Simple(String),
    Error(String),
    Int(i64),
    /// `None` is the null bulk string (`$-1`).
    Bulk(Option<Vec<u8>>),
    /// `None` is the null array (`*-1`), e.g. EXEC after a WATCH conflict.
    Array(Option<Vec<Resp>>),
}

impl Resp {
    /// The reply as text, for bulk and simple strings.
    pub fn as_text(&self) -> Option<String> {
        match self {
            Resp::Simple(s) => Some(s.clone()),
            Resp::Bulk(Some(b)) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        }
    }
}

/// Why bytes are not a RESP reply.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RespError {
    #[error("unknown RESP type byte {0:#04x} at offset {1}")]
    UnknownType(u8, usize),
    #[error("bad RESP length or integer {0:?} at offset {1}")]
    BadNumber(String, usize),
    #[error("RESP bulk string at offset {0} not followed by CRLF")]
    MissingCrlf(usize),
    #[error("RESP nesting deeper than {0}")]
    TooDeep(usize),
}

const MAX_DEPTH: usize = 32;
/// Replies larger than this are refused rather than buffered (a list-append read of a long
/// list stays far below it).
const MAX_REPLY: usize = 64 << 20;

/// Encodes a command as a RESP array of bulk strings.
pub fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + args.iter().map(|a| a.len() + 16).sum::<usize>());
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Parses one reply from the front of `buf`: `Ok(None)` if more bytes are needed, else the
/// reply and how many bytes it took.
pub fn parse(buf: &[u8]) -> Result<Option<(Resp, usize)>, RespError> {
    parse_at(buf, 0, 0)
}

fn line_end(buf: &[u8], from: usize) -> Option<usize> {
    buf.get(from..)?
        .windows(2)
        .position(|w| w == b"\r\n")
        .map(|p| from + p)
}

fn number(buf: &[u8], from: usize, end: usize) -> Result<i64, RespError> {
    let s = String::from_utf8_lossy(&buf[from..end]).into_owned();
    s.parse::<i64>().map_err(|_| RespError::BadNumber(s, from))
}

fn parse_at(buf: &[u8], at: usize, depth: usize) -> Result<Option<(Resp, usize)>, RespError> {
    if depth > MAX_DEPTH {
        return Err(RespError::TooDeep(MAX_DEPTH));
    }
    let Some(&tag) = buf.get(at) else {
        return Ok(None);
    };
    let Some(end) = line_end(buf, at + 1) else {
        return Ok(None);
    };
    let text = || String::from_utf8_lossy(&buf[at + 1..end]).into_owned();
    let next = end + 2;
    match tag {
        b'+' => Ok(Some((Resp::Simple(text()), next))),
        b'-' => Ok(Some((Resp::Error(text()), next))),
        b':' => Ok(Some((Resp::Int(number(buf, at + 1, end)?), next))),
        b'$' => {
            let n = number(buf, at + 1, end)?;
            if n < 0 {
                return Ok(Some((Resp::Bulk(None), next)));
            }
            let n = n as usize;
            if n > MAX_REPLY {
                return Err(RespError::BadNumber(n.to_string(), at + 1));
            }
            if buf.len() < next + n + 2 {
                return Ok(None);
            }
            if &buf[next + n..next + n + 2] != b"\r\n" {
                return Err(RespError::MissingCrlf(at));
            }
            Ok(Some((
                Resp::Bulk(Some(buf[next..next + n].to_vec())),
                next + n + 2,
            )))
        }
        b'*' => {
            let n = number(buf, at + 1, end)?;
            if n < 0 {
                return Ok(Some((Resp::Array(None), next)));
            }
            let mut items = Vec::with_capacity((n as usize).min(1024));
            let mut pos = next;
            for _ in 0..n {
                match parse_at(buf, pos, depth + 1)? {
                    Some((item, p)) => {
                        items.push(item);
                        pos = p;
                    }
                    None => return Ok(None),
                }
            }
            Ok(Some((Resp::Array(Some(items)), pos)))
        }
        other => Err(RespError::UnknownType(other, at)),
    }
}

/// One connection to one Redis server. Not pipelined across calls: one request, one reply,
/// so that every error can be classified by whether the request was sent.
pub struct RedisConn {
    stream: TcpStream,
    buf: Vec<u8>,
    timeout: Duration,
}

impl RedisConn {
    /// Connects within `timeout`; a failure to connect is `fail` (nothing was sent).
    pub async fn connect(addr: &str, timeout: Duration) -> Result<RedisConn, OpError> {
        let stream = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Err(_) => return Err(OpError::timeout(false)),
            Ok(Err(e)) => return Err(OpError::io(&e, false)),
            Ok(Ok(s)) => s,
        };
        let _ = stream.set_nodelay(true);
        Ok(RedisConn {
            stream,
            buf: Vec::with_capacity(4096),
            timeout,
        })
    }

    /// Sends one command and reads its reply. A server error reply (`-ERR ...`) comes back
    /// as `Resp::Error`; the caller decides what it means for the op.
    pub async fn cmd(&mut self, args: &[&[u8]]) -> Result<Resp, OpError> {
        let mut replies = self.pipeline(&[args.to_vec()]).await?;
        Ok(replies.pop().unwrap_or(Resp::Array(None)))
    }

    /// Sends several commands at once (MULTI ... EXEC) and reads one reply per command.
    pub async fn pipeline(&mut self, cmds: &[Vec<&[u8]>]) -> Result<Vec<Resp>, OpError> {
        let mut out = Vec::new();
        for c in cmds {
            out.extend_from_slice(&encode(c));
        }
        let timeout = self.timeout;
        match tokio::time::timeout(timeout, self.exchange(&out, cmds.len())).await {
            Err(_) => Err(OpError::timeout(true)),
            Ok(r) => r,
        }
    }

    async fn exchange(&mut self, out: &[u8], n: usize) -> Result<Vec<Resp>, OpError> {
        // A write error may still have delivered part of the request: unknown.
        self.stream
            .write_all(out)
            .await
            .map_err(|e| OpError::io(&e, true))?;
        let mut replies = Vec::with_capacity(n);
        while replies.len() < n {
            match parse(&self.buf) {
                Ok(Some((r, used))) => {
                    self.buf.drain(..used);
                    replies.push(r);
                    continue;
                }
                Ok(None) => {}
                Err(e) => return Err(OpError::unknown("protocol", e.to_string())),
            }
            let mut chunk = [0u8; 8192];
            let got = self
                .stream
                .read(&mut chunk)
                .await
                .map_err(|e| OpError::io(&e, true))?;
            if got == 0 {
                return Err(OpError::unknown(
                    "connection-closed",
                    "server closed the connection before replying",
                ));
            }
            self.buf.extend_from_slice(&chunk[..got]);
        }
        Ok(replies)
    }

    pub async fn get(&mut self, key: &str) -> Result<Option<String>, OpError> {
        match self.cmd(&[b"GET", key.as_bytes()]).await? {
            Resp::Bulk(None) => Ok(None),
            Resp::Error(e) => Err(server_error(&e)),
            r => Ok(r.as_text()),
        }
    }

    pub async fn set(&mut self, key: &str, value: &str) -> Result<(), OpError> {
        expect_ok(
            self.cmd(&[b"SET", key.as_bytes(), value.as_bytes()])
                .await?,
        )
    }

    /// Compare-and-set as one Lua script, which Redis runs atomically. True if it swapped.
    pub async fn cas(&mut self, key: &str, old: &str, new: &str) -> Result<bool, OpError> {
        const SCRIPT: &[u8] = b"if redis.call('GET', KEYS[1]) == ARGV[1] then \
            redis.call('SET', KEYS[1], ARGV[2]) return 1 else return 0 end";
        match self
            .cmd(&[
                b"EVAL",
                SCRIPT,
                b"1",
                key.as_bytes(),
                old.as_bytes(),
                new.as_bytes(),
            ])
            .await?
        {
            Resp::Int(n) => Ok(n == 1),
            Resp::Error(e) => Err(server_error(&e)),
            other => Err(OpError::unknown(
                "protocol",
                format!("EVAL replied {other:?}"),
            )),
        }
    }

    /// `WAIT n timeout`: how many replicas acknowledged this connection's writes so far.
    pub async fn wait(&mut self, replicas: u32, timeout_ms: u64) -> Result<i64, OpError> {
        let n = replicas.to_string();
        let t = timeout_ms.to_string();
        match self.cmd(&[b"WAIT", n.as_bytes(), t.as_bytes()]).await? {
            Resp::Int(k) => Ok(k),
            Resp::Error(e) => Err(OpError::unknown("wait", e)),
            other => Err(OpError::unknown(
                "protocol",
                format!("WAIT replied {other:?}"),
            )),
        }
    }

    /// Runs commands as one MULTI/EXEC transaction; the replies of the queued commands.
    pub async fn multi_exec(&mut self, cmds: &[Vec<&[u8]>]) -> Result<Vec<Resp>, OpError> {
        let mut all: Vec<Vec<&[u8]>> = Vec::with_capacity(cmds.len() + 2);
        all.push(vec![b"MULTI"]);
        all.extend(cmds.iter().cloned());
        all.push(vec![b"EXEC"]);
        let mut replies = self.pipeline(&all).await?;
        // Redis rejects a whole transaction (EXECABORT) if any queued command was refused:
        // nothing ran.
        match replies.pop() {
            Some(Resp::Array(Some(items))) => Ok(items),
            Some(Resp::Array(None)) => Err(OpError::not_applied("aborted", "EXEC returned nil")),
            Some(Resp::Error(e)) => Err(server_error(&e)),
            other => Err(OpError::unknown(
                "protocol",
                format!("EXEC replied {other:?}"),
            )),
        }
    }

    /// `INFO replication` as key/value pairs (`role`, `master_host`, `connected_slaves`,
    /// `master_link_status`, ...).
    pub async fn info_replication(&mut self) -> Result<Vec<(String, String)>, OpError> {
        let r = self.cmd(&[b"INFO", b"replication"]).await?;
        let text = match r {
            Resp::Error(e) => return Err(server_error(&e)),
            r => r.as_text().unwrap_or_default(),
        };
        Ok(parse_info(&text))
    }
}

/// Parses `INFO` text (`key:value` lines, `#` section headers).
pub fn parse_info(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.trim_end().split_once(':'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A server error reply. Redis refuses a command before running it for every error it
/// returns to a plain command (READONLY, LOADING, MASTERDOWN, NOREPLICAS, WRONGTYPE...), so
/// the op did not happen.
pub fn server_error(e: &str) -> OpError {
    let kind = e
        .split_whitespace()
        .next()
        .unwrap_or("ERR")
        .to_ascii_lowercase();
    OpError::not_applied(kind, e.to_string())
}

fn expect_ok(r: Resp) -> Result<(), OpError> {
    match r {
        Resp::Simple(s) if s == "OK" => Ok(()),
        Resp::Error(e) => Err(server_error(&e)),
        other => Err(OpError::unknown(
            "protocol",
            format!("expected OK, got {other:?}"),
        )),
    }
}

/// A reply that should be a list of strings (LRANGE).
pub fn list_of(r: Resp) -> Result<Vec<String>, OpError> {
    match r {
        Resp::Array(Some(items)) => Ok(items.iter().filter_map(Resp::as_text).collect()),
        Resp::Array(None) => Ok(Vec::new()),
        Resp::Error(e) => Err(server_error(&e)),
        other => Err(OpError::unknown(
            "protocol",
            format!("expected a list, got {other:?}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_commands_as_bulk_arrays() {
        assert_eq!(
            encode(&[b"SET", b"k", b"v1"]),
            b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\nv1\r\n".to_vec()
        );
    }

    #[test]
    fn parses_every_reply_type() {
        let cases: Vec<(&[u8], Resp)> = vec![
            (b"+OK\r\n", Resp::Simple("OK".into())),
            (b"-ERR wrong\r\n", Resp::Error("ERR wrong".into())),
            (b":-12\r\n", Resp::Int(-12)),
            (b"$3\r\nabc\r\n", Resp::Bulk(Some(b"abc".to_vec()))),
            (b"$0\r\n\r\n", Resp::Bulk(Some(Vec::new()))),
            (b"$-1\r\n", Resp::Bulk(None)),
            (b"*-1\r\n", Resp::Array(None)),
            (
                b"*2\r\n$1\r\na\r\n*1\r\n:1\r\n",
                Resp::Array(Some(vec![
                    Resp::Bulk(Some(b"a".to_vec())),
                    Resp::Array(Some(vec![Resp::Int(1)])),
                ])),
            ),
        ];
        for (bytes, want) in cases {
            let (got, used) = parse(bytes).unwrap().unwrap();
            assert_eq!(got, want, "{:?}", String::from_utf8_lossy(bytes));
            assert_eq!(used, bytes.len());
        }
    }

    #[test]
    fn incomplete_input_asks_for_more_at_every_cut() {
        let whole = b"*2\r\n$5\r\nhello\r\n:42\r\n";
        for cut in 0..whole.len() {
            assert_eq!(parse(&whole[..cut]).unwrap(), None, "cut at {cut}");
        }
        assert!(parse(whole).unwrap().is_some());
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        assert!(matches!(
            parse(b"!x\r\n"),
            Err(RespError::UnknownType(b'!', 0))
        ));
        assert!(matches!(parse(b":abc\r\n"), Err(RespError::BadNumber(..))));
        assert!(matches!(
            parse(b"$2\r\nabcd\r\n"),
            Err(RespError::MissingCrlf(0))
        ));
        let deep = "*1\r\n".repeat(40);
        assert!(matches!(parse(deep.as_bytes()), Err(RespError::TooDeep(_))));
    }

    #[test]
    fn parses_info_replication() {
        let info =
            "# Replication\r\nrole:slave\r\nmaster_host:10.0.0.1\r\nmaster_link_status:up\r\n";
        let kv = parse_info(info);
        assert!(kv.contains(&("role".into(), "slave".into())));
        assert!(kv.contains(&("master_link_status".into(), "up".into())));
    }

    #[test]
    fn server_errors_are_definite_failures() {
        let e = server_error("READONLY You can't write against a read only replica.");
        assert!(e.is_fail());
        assert_eq!(e.kind, "readonly");
    }
}
