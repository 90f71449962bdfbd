//! The client port: line-delimited JSON requests, answered one line each, in order.
//! Oversize lines (over 1 MiB) are refused and skipped; the connection stays open.

use crate::node::Node;
use crate::protocol::{parse_request, Response, MAX_FRAME};
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::{TcpListener, TcpStream};

pub async fn serve(listener: TcpListener, node: Arc<Node>) {
    loop {
        match listener.accept().await {
            Ok((sock, _)) => {
                let node = node.clone();
                tokio::spawn(async move {
                    let _ = sock.set_nodelay(true);
                    if let Err(e) = connection(sock, node).await {
                        if e.kind() != std::io::ErrorKind::ConnectionReset {
                            eprintln!("client connection: {e}");
                        }
                    }
                });
            }
            Err(e) => {
                eprintln!("accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

async fn connection(sock: TcpStream, node: Arc<Node>) -> std::io::Result<()> {
    let (r, w) = sock.into_split();
    let mut r = BufReader::with_capacity(64 << 10, r);
    let mut w = BufWriter::new(w);
    let mut line: Vec<u8> = Vec::new();
    let mut oversize = false;
    loop {
        let buf = r.fill_buf().await?;
        if buf.is_empty() {
            return w.flush().await;
        }
        let (chunk, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..i], i + 1),
            None => (buf, buf.len()),
        };
        let complete = done <= buf.len() && buf.get(done - 1) == Some(&b'\n');
        if !oversize {
            if line.len() + chunk.len() > MAX_FRAME {
                oversize = true;
                line.clear();
            } else {
                line.extend_from_slice(chunk);
            }
        }
        r.consume(done);
        if !complete {
            continue;
        }
        let resp = if oversize {
            oversize = false;
            let mut e = Response::bad_request(format!("frame exceeds {MAX_FRAME} bytes"));
            e.node = Some(node.id().to_string());
            e
        } else if line.iter().all(|b| b.is_ascii_whitespace()) {
            line.clear();
            continue;
        } else {
            let resp = match parse_request(&line) {
                Ok(req) => {
                    let id = req.id.clone();
                    let mut resp = node.handle(req.op).await;
                    resp.id = id;
                    resp
                }
                Err(e) => *e,
            };
            line.clear();
            let mut resp = resp;
            resp.node = Some(node.id().to_string());
            resp
        };
        let mut out =
            serde_json::to_vec(&resp).unwrap_or_else(|_| b"{\"id\":null,\"ok\":false}".to_vec());
        out.push(b'\n');
        w.write_all(&out).await?;
        if r.buffer().is_empty() {
            w.flush().await?;
        }
    }
}
