//! Load generator for bench/replica.sh: C concurrent clients, a fixed op count, half writes and
//! half reads over a small key space, following not-leader hints. Prints one table row:
//! mode, ops, errors, ops/s, p50 and p99 latency in ms.
//!
//! usage: replica_bench MODE ADDR[,ADDR...] [--clients 10] [--ops 20000] [--keys 100]

use faultline_replica::client::Client;
use serde_json::json;
use std::time::{Duration, Instant};

fn arg(args: &[String], name: &str, default: usize) -> usize {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!(
            "usage: replica_bench MODE ADDR[,ADDR...] [--clients 10] [--ops 20000] [--keys 100]"
        );
        std::process::exit(2);
    }
    let mode = args[1].clone();
    let addrs: Vec<String> = args[2].split(',').map(String::from).collect();
    let clients = arg(&args, "--clients", 10).max(1);
    let ops = arg(&args, "--ops", 20000);
    let keys = arg(&args, "--keys", 100).max(1);
    let leader_based = mode.starts_with("leader-") || mode == "raft";
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let addrs = addrs.clone();
        let per = ops / clients + usize::from(c < ops % clients);
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(per);
            let mut errors = 0usize;
            let mut node = if leader_based { 0 } else { c % addrs.len() };
            let mut conn: Option<Client> = None;
            let deadline = Instant::now() + Duration::from_secs(120);
            let mut done = 0;
            let mut k = c * 7919;
            while done < per && Instant::now() < deadline {
                if conn.is_none() {
                    conn = Client::connect(&addrs[node], Duration::from_secs(5))
                        .await
                        .ok();
                    if conn.is_none() {
                        node = (node + 1) % addrs.len();
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                }
                k += 1;
                let key = format!("k{}", k % keys);
                let req = if k % 2 == 0 {
                    json!({"op": "write", "key": key, "value": k})
                } else {
                    json!({"op": "read", "key": key})
                };
                let t = Instant::now();
                let Some(cl) = conn.as_mut() else { continue };
                let r = cl.call(req).await;
                let el = t.elapsed();
                match r {
                    Ok(r) if r.ok => {
                        lat.push(el.as_micros() as u64);
                        done += 1;
                    }
                    Ok(r) if r.error.as_deref() == Some("not-leader") => {
                        node = r
                            .leader
                            .and_then(|l| l.trim_start_matches('n').parse::<usize>().ok())
                            .filter(|n| *n >= 1 && *n <= addrs.len())
                            .map(|n| n - 1)
                            .unwrap_or((node + 1) % addrs.len());
                        conn = None;
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    Ok(_) => {
                        errors += 1;
                        done += 1;
                    }
                    Err(_) => {
                        errors += 1;
                        conn = None;
                    }
                }
            }
            (lat, errors)
        }));
    }
    let mut lat = Vec::new();
    let mut errors = 0;
    for t in tasks {
        if let Ok((l, e)) = t.await {
            lat.extend(l);
            errors += e;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    lat.sort_unstable();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    println!(
        "{:<16} {:>8} {:>7} {:>10.0} {:>9.2} {:>9.2}",
        mode,
        lat.len(),
        errors,
        lat.len() as f64 / secs,
        pct(0.50) as f64 / 1000.0,
        pct(0.99) as f64 / 1000.0
    );
}
