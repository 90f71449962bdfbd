//! PostgreSQL target: a primary with streaming standbys (async, sync FIRST 1, quorum ANY 1).

pub mod sql;
