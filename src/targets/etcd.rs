//! etcd target: a Raft cluster of Debian's etcd, one member per namespace, via its v3 JSON gateway.

pub mod http;
pub mod kv;
