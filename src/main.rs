//! The `faultline` command line: a thin layer over the library crates. Each subcommand lives
//! in its own module and returns the process exit code (see `exit`).

use clap::{Parser, Subcommand};

mod check;
mod cleanup;
mod cluster;
mod exit;
mod matrix;
mod node;
mod report;
mod run;
mod serve;
mod spec_error;
mod targets;

#[derive(Debug, Parser)]
#[command(name = "faultline", version, about = "A Jepsen-style consistency checker and fault-injection harness", after_help = exit::HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once per process; boxing the big variants would only add noise.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Check a recorded history (JSONL, Jepsen EDN, Jepsen log, Porcupine kv) against a model.
    Check(check::Args),
    /// Run a test: start a cluster, run a workload under faults, check the history, write a report.
    Run(run::Args),
    /// Remove whatever a killed run left behind (namespaces, bridges, rules, processes).
    Cleanup(cleanup::Args),
    /// Serve one node of the built-in replicated store.
    Node(node::Args),
    /// Start or stop a local cluster of the built-in store on loopback.
    Cluster(cluster::Args),
    /// Regenerate the HTML report of a run directory.
    Report(report::Args),
    /// Browse the reports under runs/ on 127.0.0.1.
    Serve(serve::Args),
    /// Run a table of tests and compare what each finds with what it expects (a CI gate).
    Matrix(matrix::Args),
}

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::VALID
            };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    let result = match cli.command {
        Command::Check(a) => check::main(a),
        Command::Run(a) => run::main(a),
        Command::Cleanup(a) => cleanup::main(a),
        Command::Node(a) => node::main(a),
        Command::Cluster(a) => cluster::main(a),
        Command::Report(a) => report::main(a),
        Command::Serve(a) => serve::main(a),
        Command::Matrix(a) => matrix::main(a),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("faultline: {e:#}");
            std::process::exit(exit::HARNESS);
        }
    }
}
