//! Redis target: a primary with asynchronous replicas, optional Sentinel, optional WAIT.

pub mod resp;
