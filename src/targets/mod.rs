//! Target adapters: what runs on the nodes.

pub mod etcd;
pub mod external;
pub mod faketime;
pub mod install;
pub mod ops;
pub mod outcome;
pub mod postgres;
pub mod real;
pub mod redis;
#[cfg(test)]
mod e2e_tests;
