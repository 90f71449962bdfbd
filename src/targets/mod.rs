//! Target adapters: what runs on the nodes.

pub mod etcd;
pub mod outcome;
pub mod postgres;
pub mod redis;
