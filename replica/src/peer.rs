//! Node-to-node RPC on its own port: framed request/response over TCP.
//!
//! A frame is `[u64 request id][u32 length][JSON payload]`, big-endian. Requests on one
//! connection are multiplexed (the server answers each as it completes), so one slow call does
//! not hold up another. Clients reconnect lazily after an error and every call has a timeout.
//! `isolated` (set by the `isolate` admin request) makes this node drop all peer traffic both
//! ways: a partition without root.

use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

/// Largest peer frame (replication batches are bounded well below this).
const MAX_PEER_FRAME: usize = 64 << 20;

#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    #[error("peer {0} unreachable: {1}")]
    Unreachable(String, String),
    #[error("peer {0} timed out")]
    Timeout(String),
    #[error("peer {0} sent a bad reply: {1}")]
    Bad(String, String),
    #[error("this node is isolated")]
    Isolated,
}

pub type Handler =
    Arc<dyn Fn(Vec<u8>) -> Pin<Box<dyn Future<Output = Vec<u8>> + Send>> + Send + Sync>;

/// Serve peer requests on `listener` with `handler` until the process ends.
pub async fn serve(listener: TcpListener, handler: Handler, isolated: Arc<AtomicBool>) {
    loop {
        let Ok((sock, _)) = listener.accept().await else {
            continue;
        };
        if isolated.load(Ordering::Relaxed) {
            drop(sock);
            continue;
        }
        let _ = sock.set_nodelay(true);
        let handler = handler.clone();
        let isolated = isolated.clone();
        tokio::spawn(async move {
            let (r, w) = sock.into_split();
            let (tx, mut rx) = mpsc::unbounded_channel::<(u64, Vec<u8>)>();
            let writer = tokio::spawn(async move {
                let mut w = BufWriter::new(w);
                while let Some((id, body)) = rx.recv().await {
                    if write_frame(&mut w, id, &body).await.is_err() {
                        break;
                    }
                    if rx.is_empty() && w.flush().await.is_err() {
                        break;
                    }
                }
            });
            let mut r = BufReader::new(r);
            while let Ok((id, body)) = read_frame(&mut r).await {
                if isolated.load(Ordering::Relaxed) {
                    break;
                }
                let handler = handler.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    let out = handler(body).await;
                    let _ = tx.send((id, out));
                });
            }
            drop(tx);
            let _ = writer.await;
        });
    }
}

async fn write_frame<W: AsyncWriteExt + Unpin>(
    w: &mut W,
    id: u64,
    body: &[u8],
) -> std::io::Result<()> {
    w.write_all(&id.to_be_bytes()).await?;
    w.write_all(&(body.len() as u32).to_be_bytes()).await?;
    w.write_all(body).await
}

async fn read_frame<R: AsyncReadExt + Unpin>(r: &mut R) -> std::io::Result<(u64, Vec<u8>)> {
    let id = r.read_u64().await?;
    let len = r.read_u32().await? as usize;
    if len > MAX_PEER_FRAME {
        return Err(std::io::Error::other("peer frame too large"));
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).await?;
    Ok((id, body))
}

type Pending = Arc<std::sync::Mutex<HashMap<u64, oneshot::Sender<Vec<u8>>>>>;

struct Conn {
    tx: mpsc::UnboundedSender<(u64, Vec<u8>)>,
    pending: Pending,
    dead: Arc<AtomicBool>,
}

/// A client for one peer. Cheap to share; calls run concurrently over one connection.
pub struct PeerClient {
    pub name: String,
    addr: String,
    isolated: Arc<AtomicBool>,
    conn: tokio::sync::Mutex<Option<Arc<Conn>>>,
    next_id: AtomicU64,
}

impl PeerClient {
    pub fn new(name: String, addr: String, isolated: Arc<AtomicBool>) -> Self {
        PeerClient {
            name,
            addr,
            isolated,
            conn: tokio::sync::Mutex::new(None),
            next_id: AtomicU64::new(1),
        }
    }

    async fn connection(&self, timeout: Duration) -> Result<Arc<Conn>, RpcError> {
        let mut g = self.conn.lock().await;
        if let Some(c) = g.as_ref() {
            if !c.dead.load(Ordering::Relaxed) {
                return Ok(c.clone());
            }
        }
        let sock = match tokio::time::timeout(timeout, TcpStream::connect(&self.addr)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(RpcError::Unreachable(self.name.clone(), e.to_string())),
            Err(_) => return Err(RpcError::Timeout(self.name.clone())),
        };
        let _ = sock.set_nodelay(true);
        let (r, w) = sock.into_split();
        let (tx, mut rx) = mpsc::unbounded_channel::<(u64, Vec<u8>)>();
        let pending: Pending = Arc::default();
        let dead = Arc::new(AtomicBool::new(false));
        let d = dead.clone();
        tokio::spawn(async move {
            let mut w = BufWriter::new(w);
            while let Some((id, body)) = rx.recv().await {
                if write_frame(&mut w, id, &body).await.is_err() {
                    break;
                }
                if rx.is_empty() && w.flush().await.is_err() {
                    break;
                }
            }
            d.store(true, Ordering::Relaxed);
        });
        let (p, d) = (pending.clone(), dead.clone());
        tokio::spawn(async move {
            let mut r = BufReader::new(r);
            while let Ok((id, body)) = read_frame(&mut r).await {
                let waiter = p.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
                if let Some(waiter) = waiter {
                    let _ = waiter.send(body);
                }
            }
            d.store(true, Ordering::Relaxed);
            // Dropping the senders fails every call still waiting on this connection.
            p.lock().unwrap_or_else(|e| e.into_inner()).clear();
        });
        let c = Arc::new(Conn { tx, pending, dead });
        *g = Some(c.clone());
        Ok(c)
    }

    /// One request/response with a deadline. Errors are indefinite for the caller: the peer may
    /// have acted on the request.
    pub async fn call<Q: Serialize, A: DeserializeOwned>(
        &self,
        req: &Q,
        timeout: Duration,
    ) -> Result<A, RpcError> {
        if self.isolated.load(Ordering::Relaxed) {
            return Err(RpcError::Isolated);
        }
        let body =
            serde_json::to_vec(req).map_err(|e| RpcError::Bad(self.name.clone(), e.to_string()))?;
        let work = async {
            let conn = self.connection(timeout).await?;
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            let (tx, rx) = oneshot::channel();
            conn.pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(id, tx);
            if conn.tx.send((id, body)).is_err() {
                conn.dead.store(true, Ordering::Relaxed);
                return Err(RpcError::Unreachable(
                    self.name.clone(),
                    "connection closed".into(),
                ));
            }
            let out = rx.await;
            conn.pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&id);
            out.map_err(|_| RpcError::Unreachable(self.name.clone(), "connection closed".into()))
        };
        let bytes = match tokio::time::timeout(timeout, work).await {
            Ok(r) => r?,
            Err(_) => return Err(RpcError::Timeout(self.name.clone())),
        };
        serde_json::from_slice(&bytes).map_err(|e| RpcError::Bad(self.name.clone(), e.to_string()))
    }

    /// Drop the connection (used when this node becomes isolated).
    pub async fn reset(&self) {
        if let Some(c) = self.conn.lock().await.take() {
            c.dead.store(true, Ordering::Relaxed);
            c.pending.lock().unwrap_or_else(|e| e.into_inner()).clear();
        }
    }
}

/// Build a handler from a typed async function.
pub fn handler<Q, A, F, Fut>(f: F) -> Handler
where
    Q: DeserializeOwned + Send + 'static,
    A: Serialize + Send + 'static,
    F: Fn(Q) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = A> + Send + 'static,
{
    let f = Arc::new(f);
    Arc::new(move |body: Vec<u8>| {
        let f = f.clone();
        Box::pin(async move {
            match serde_json::from_slice::<Q>(&body) {
                Ok(q) => serde_json::to_vec(&f(q).await).unwrap_or_default(),
                Err(e) => {
                    eprintln!("peer: bad request: {e}");
                    b"null".to_vec()
                }
            }
        })
    })
}
