//! `faultline report`: not built yet on this branch.

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn main(_args: Args) -> anyhow::Result<i32> {
    eprintln!("faultline report: not available in this build");
    Ok(crate::exit::HARNESS)
}
