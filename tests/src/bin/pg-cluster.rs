//! Starts a throwaway PostgreSQL cluster (`belfry_tests::pg`), runs the
//! command given with `BELFRY_TEST_PG_HOST` naming its socket directory,
//! stops the cluster and exits as the command did. `cargo xtask test` runs
//! the instance's tests on PostgreSQL through it:
//!
//! `BELFRY_TEST_DB=postgres cargo run -p belfry-tests --bin pg-cluster -- cargo nextest run -p belfry-tests --test instance_api`

use anyhow::{Context, bail};
use std::process::Command;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args_os().skip(1);
    let Some(program) = args.next() else {
        bail!("usage: pg-cluster COMMAND [ARGS…]");
    };
    let cluster = belfry_tests::pg::Cluster::start();
    let status = Command::new(&program)
        .args(args)
        .env("BELFRY_TEST_PG_HOST", cluster.host())
        .status()
        .with_context(|| format!("while running {}", program.to_string_lossy()));
    drop(cluster);
    std::process::exit(status?.code().unwrap_or(1));
}
