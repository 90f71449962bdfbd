//! A small async client for the client protocol, for tests, benchmarks and the harness.

use crate::protocol::{Response, MAX_FRAME};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{addr}: {source}")]
    Io {
        addr: String,
        source: std::io::Error,
    },
    #[error("{0}: timed out")]
    Timeout(String),
    #[error("{addr}: bad response: {msg}")]
    Bad { addr: String, msg: String },
}

/// One connection; requests are answered in order.
pub struct Client {
    addr: String,
    r: BufReader<OwnedReadHalf>,
    w: OwnedWriteHalf,
    next_id: u64,
    pub timeout: Duration,
}

impl Client {
    pub async fn connect(addr: &str, timeout: Duration) -> Result<Client, ClientError> {
        let io = |source| ClientError::Io {
            addr: addr.to_string(),
            source,
        };
        let sock = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| ClientError::Timeout(addr.to_string()))?
            .map_err(io)?;
        let _ = sock.set_nodelay(true);
        let (r, w) = sock.into_split();
        Ok(Client {
            addr: addr.to_string(),
            r: BufReader::new(r),
            w,
            next_id: 1,
            timeout,
        })
    }

    /// Send one request object (its `id` is set here) and wait for the response.
    pub async fn call(&mut self, mut req: Value) -> Result<Response, ClientError> {
        let id = self.next_id;
        self.next_id += 1;
        if let Value::Object(m) = &mut req {
            m.insert("id".into(), json!(id));
        }
        let mut line = serde_json::to_vec(&req).map_err(|e| self.bad(e))?;
        line.push(b'\n');
        self.send_raw(&line).await
    }

    /// Send raw bytes (tests use this for malformed input) and read one response line.
    pub async fn send_raw(&mut self, bytes: &[u8]) -> Result<Response, ClientError> {
        let addr = self.addr.clone();
        let io = |source| ClientError::Io {
            addr: addr.clone(),
            source,
        };
        let work = async {
            self.w.write_all(bytes).await.map_err(io)?;
            let mut buf = Vec::new();
            let n = (&mut self.r)
                .take(MAX_FRAME as u64 * 4)
                .read_until(b'\n', &mut buf)
                .await
                .map_err(io)?;
            if n == 0 {
                return Err(ClientError::Io {
                    addr: addr.clone(),
                    source: std::io::ErrorKind::UnexpectedEof.into(),
                });
            }
            serde_json::from_slice::<Response>(&buf).map_err(|e| ClientError::Bad {
                addr: addr.clone(),
                msg: e.to_string(),
            })
        };
        tokio::time::timeout(self.timeout, work)
            .await
            .map_err(|_| ClientError::Timeout(self.addr.clone()))?
    }

    fn bad(&self, e: impl std::fmt::Display) -> ClientError {
        ClientError::Bad {
            addr: self.addr.clone(),
            msg: e.to_string(),
        }
    }

    pub async fn read(&mut self, key: &str) -> Result<Response, ClientError> {
        self.call(json!({"op": "read", "key": key})).await
    }
    pub async fn write(&mut self, key: &str, value: Value) -> Result<Response, ClientError> {
        self.call(json!({"op": "write", "key": key, "value": value}))
            .await
    }
    pub async fn status(&mut self) -> Result<Response, ClientError> {
        self.call(json!({"op": "status"})).await
    }
}
