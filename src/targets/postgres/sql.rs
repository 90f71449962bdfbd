//! The PostgreSQL client side: list-append and bank transactions at a chosen isolation level,
//! over tokio-postgres.
//!
//! Outcomes: a transaction is `fail` if the server rejected it (every server error aborts a
//! PostgreSQL transaction: serialization failures 40001, deadlocks 40P01, writes on a
//! read-only standby 25006) or if the connection broke before COMMIT was sent; it is `info`
//! only when COMMIT was sent and no answer came back, since it may have committed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio_postgres::{Client, NoTls};

use crate::targets::ops::Micro;
use crate::targets::outcome::OpError;

/// The isolation level each transaction runs at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isolation {
    ReadCommitted,
    RepeatableRead,
    Serializable,
}

impl Isolation {
    pub fn parse(s: &str) -> Option<Isolation> {
        match s.to_ascii_lowercase().replace(['_', ' '], "-").as_str() {
            "read-committed" => Some(Isolation::ReadCommitted),
            "repeatable-read" | "snapshot-isolation" => Some(Isolation::RepeatableRead),
            "serializable" => Some(Isolation::Serializable),
            _ => None,
        }
    }

    pub fn sql(self) -> &'static str {
        match self {
            Isolation::ReadCommitted => "READ COMMITTED",
            Isolation::RepeatableRead => "REPEATABLE READ",
            Isolation::Serializable => "SERIALIZABLE",
        }
    }
}

/// The result of one micro-op: appends echo their value, reads return the list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MicroResult {
    Appended(String, i64),
    Read(String, Vec<i64>),
}

/// The tables the workloads use. Idempotent.
pub const SCHEMA: &str = "\
CREATE TABLE IF NOT EXISTS fl_lists (k text PRIMARY KEY, v bigint[] NOT NULL DEFAULT '{}');
CREATE TABLE IF NOT EXISTS fl_accounts (id bigint PRIMARY KEY, balance bigint NOT NULL);";

/// A connection to one server (primary or standby).
pub struct PgConn {
    client: Client,
    pub isolation: Isolation,
    timeout: Duration,
    /// Ends when the connection does; aborted on drop so nothing outlives the client.
    task: tokio::task::JoinHandle<()>,
}

impl Drop for PgConn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn db_error(e: &tokio_postgres::Error, commit_sent: bool) -> OpError {
    if let Some(db) = e.as_db_error() {
        let code = db.code().code();
        let kind = match code {
            "40001" => "serialization-failure",
            "40P01" => "deadlock",
            "25006" => "read-only",
            "57P01" | "57P02" | "57P03" => "shutting-down",
            _ => "sql-error",
        };
        // The server answered: the transaction is rolled back.
        return OpError::not_applied(kind, format!("{code}: {}", db.message()));
    }
    if commit_sent {
        OpError::unknown("connection-lost", e.to_string())
    } else {
        OpError::not_applied("connection-lost", e.to_string())
    }
}

impl PgConn {
    /// Connects as `user` to `dbname` at `host:port`; failure is `fail` (nothing was sent).
    pub async fn connect(
        host: &str,
        port: u16,
        user: &str,
        dbname: &str,
        isolation: Isolation,
        timeout: Duration,
    ) -> Result<PgConn, OpError> {
        let mut cfg = tokio_postgres::Config::new();
        cfg.host(host)
            .port(port)
            .user(user)
            .dbname(dbname)
            .connect_timeout(timeout);
        let (client, connection) = match tokio::time::timeout(timeout, cfg.connect(NoTls)).await {
            Err(_) => return Err(OpError::timeout(false)),
            Ok(Err(e)) => return Err(OpError::not_applied("connect", e.to_string())),
            Ok(Ok(c)) => c,
        };
        let task = tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(PgConn {
            client,
            isolation,
            timeout,
            task,
        })
    }

    pub async fn batch(&self, sql: &str) -> Result<(), OpError> {
        match tokio::time::timeout(self.timeout, self.client.batch_execute(sql)).await {
            Err(_) => Err(OpError::timeout(true)),
            Ok(r) => r.map_err(|e| db_error(&e, true)),
        }
    }

    /// Runs `body` inside BEGIN ... COMMIT at this connection's isolation level, classifying
    /// errors by whether COMMIT had been sent.
    async fn in_txn<T>(
        &self,
        read_only: bool,
        body: impl std::future::Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> Result<T, OpError> {
        let commit_sent = AtomicBool::new(false);
        let run = async {
            let begin = format!("BEGIN ISOLATION LEVEL {}", self.isolation.sql());
            self.client.batch_execute(&begin).await?;
            let out = match body.await {
                Ok(out) => out,
                Err(e) => {
                    let _ = self.client.batch_execute("ROLLBACK").await;
                    return Err(e);
                }
            };
            commit_sent.store(true, Ordering::SeqCst);
            self.client.batch_execute("COMMIT").await?;
            Ok(out)
        };
        let result = tokio::time::timeout(self.timeout, run).await;
        let sent = commit_sent.load(Ordering::SeqCst) && !read_only;
        match result {
            // Timed out before COMMIT left: the connection is abandoned (the caller drops
            // it), so the server rolls the transaction back.
            Err(_) => Err(if sent {
                OpError::unknown("timeout", "no reply to COMMIT before the op timeout")
            } else {
                OpError::not_applied("timeout", "timed out before COMMIT")
            }),
            Ok(Err(e)) => Err(db_error(&e, sent)),
            Ok(Ok(v)) => Ok(v),
        }
    }

    /// A list-append transaction.
    pub async fn list_append(&self, ops: &[Micro]) -> Result<Vec<MicroResult>, OpError> {
        let read_only = ops.iter().all(|m| matches!(m, Micro::Read(_)));
        self.in_txn(read_only, async {
            let mut out = Vec::with_capacity(ops.len());
            for m in ops {
                match m {
                    Micro::Append(k, v) => {
                        self.client
                            .execute(
                                "INSERT INTO fl_lists (k, v) VALUES ($1, ARRAY[$2::bigint]) \
                                 ON CONFLICT (k) DO UPDATE SET v = fl_lists.v || $2::bigint",
                                &[k, v],
                            )
                            .await?;
                        out.push(MicroResult::Appended(k.clone(), *v));
                    }
                    Micro::Read(k) => {
                        let row = self
                            .client
                            .query_opt("SELECT v FROM fl_lists WHERE k = $1", &[k])
                            .await?;
                        let list: Vec<i64> = row.map(|r| r.get(0)).unwrap_or_default();
                        out.push(MicroResult::Read(k.clone(), list));
                    }
                }
            }
            Ok(out)
        })
        .await
    }

    /// Creates `accounts` accounts, the first holding `total` and the rest 0, unless they
    /// exist already.
    pub async fn bank_setup(&self, accounts: i64, total: i64) -> Result<(), OpError> {
        for id in 0..accounts {
            let balance = if id == 0 { total } else { 0 };
            let r = tokio::time::timeout(
                self.timeout,
                self.client.execute(
                    "INSERT INTO fl_accounts (id, balance) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    &[&id, &balance],
                ),
            )
            .await;
            match r {
                Err(_) => return Err(OpError::timeout(true)),
                Ok(Err(e)) => return Err(db_error(&e, true)),
                Ok(Ok(_)) => {}
            }
        }
        Ok(())
    }

    /// Moves `amount` from `from` to `to` unless `from` would go negative (then `fail` with
    /// kind `insufficient-funds`: nothing changed). Reads both balances first and writes both
    /// back, the read-modify-write shape under which weak isolation shows.
    pub async fn transfer(&self, from: i64, to: i64, amount: i64) -> Result<(), OpError> {
        let r = self
            .in_txn(false, async {
                let bal = |id: i64| async move {
                    let row = self
                        .client
                        .query_one("SELECT balance FROM fl_accounts WHERE id = $1", &[&id])
                        .await?;
                    Ok::<i64, tokio_postgres::Error>(row.get(0))
                };
                let a = bal(from).await?;
                let b = bal(to).await?;
                if a < amount {
                    return Ok(false);
                }
                let set = "UPDATE fl_accounts SET balance = $2 WHERE id = $1";
                self.client.execute(set, &[&from, &(a - amount)]).await?;
                self.client.execute(set, &[&to, &(b + amount)]).await?;
                Ok(true)
            })
            .await?;
        if r {
            Ok(())
        } else {
            Err(OpError::not_applied(
                "insufficient-funds",
                format!("account {from} holds less than {amount}"),
            ))
        }
    }

    /// Every account's balance, in one transaction.
    pub async fn balances(&self) -> Result<Vec<(i64, i64)>, OpError> {
        self.in_txn(true, async {
            let rows = self
                .client
                .query("SELECT id, balance FROM fl_accounts ORDER BY id", &[])
                .await?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_isolation_levels_in_the_spellings_people_use() {
        assert_eq!(
            Isolation::parse("serializable"),
            Some(Isolation::Serializable)
        );
        assert_eq!(
            Isolation::parse("repeatable_read"),
            Some(Isolation::RepeatableRead)
        );
        assert_eq!(
            Isolation::parse("Read Committed"),
            Some(Isolation::ReadCommitted)
        );
        assert_eq!(Isolation::parse("snapshot"), None);
    }
}
