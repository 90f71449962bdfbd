//! Environments (netns, ssh) and faults (partition, kill, pause, clock, net). (Built in issue 4.)

pub mod ssh;
