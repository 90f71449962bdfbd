//! `faultline serve`: browse the reports under `runs/` from a browser, on loopback only.
//!
//! A tiny, bounded HTTP/1.0-style server on `std::net`: GET and HEAD, one request per
//! connection, at most `MAX_CONNECTIONS` handled at once (more get 503), request heads capped
//! at 8 KiB, 10 s socket timeouts. It serves files under the directory only: paths are
//! percent-decoded, any `..` segment is refused, and the resolved path must still lie under
//! the directory after symlinks are followed.

mod http;
mod listing;

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::exit;

/// Connections handled at once; the rest are told to come back.
const MAX_CONNECTIONS: usize = 16;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The directory to serve (the runs of `faultline run`).
    #[arg(long, default_value = "runs")]
    pub dir: PathBuf,
    /// Where to listen; a loopback address only (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Stop after this many requests (for scripts and tests).
    #[arg(long, hide = true)]
    pub max_requests: Option<u64>,
}

pub fn main(args: Args) -> anyhow::Result<i32> {
    if !args.addr.ip().is_loopback() {
        eprintln!(
            "faultline serve: {} is not a loopback address; reports are served on 127.0.0.1 (or ::1) only",
            args.addr
        );
        return Ok(exit::USAGE);
    }
    let root = match args.dir.canonicalize() {
        Ok(r) if r.is_dir() => r,
        _ => {
            eprintln!(
                "faultline serve: {}: not a directory (run a test first, or pass --dir)",
                args.dir.display()
            );
            return Ok(exit::USAGE);
        }
    };
    let listener = match TcpListener::bind(args.addr) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("faultline serve: cannot listen on {}: {e}", args.addr);
            return Ok(exit::HARNESS);
        }
    };
    let local = listener.local_addr()?;
    println!("serving {} on http://{local}/", root.display());
    use std::io::Write as _;
    let _ = std::io::stdout().flush();

    let root = Arc::new(root);
    let active = Arc::new(AtomicUsize::new(0));
    let mut served = 0u64;
    let mut workers = Vec::new();
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let _ = stream.set_write_timeout(Some(Duration::from_secs(10)));
        served += 1;
        if active.load(Ordering::SeqCst) >= MAX_CONNECTIONS {
            http::busy(&mut stream);
        } else {
            active.fetch_add(1, Ordering::SeqCst);
            let (root, active) = (Arc::clone(&root), Arc::clone(&active));
            workers.push(std::thread::spawn(move || {
                http::handle(&mut stream, &root);
                active.fetch_sub(1, Ordering::SeqCst);
            }));
            workers.retain(|w| !w.is_finished());
        }
        if args.max_requests.is_some_and(|m| served >= m) {
            break;
        }
    }
    for w in workers {
        let _ = w.join();
    }
    Ok(exit::VALID)
}
