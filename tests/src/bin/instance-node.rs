//! One instance node as a process of its own, for the failover test
//! (`tests/tests/instance_failover.rs`), which kills it with SIGKILL: the
//! library's `Instance::serve` on a loopback port, on the database given
//! (`instance-node DB`), printing `listening ADDR` once it serves.
//! Built with the tests, so it is always the code under test (the
//! `belfry-instance` binary may be older in the target directory). It
//! stops on SIGINT and SIGTERM as that binary does (`stop_signal`).

use anyhow::Context;
use belfry_instance::{Config, Instance};
use std::io::Write;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let db = std::env::args().nth(1).context("usage: instance-node DB")?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let instance = Instance::serve(
        listener,
        Config {
            db: Some(db.into()),
            ..Config::default()
        },
    )
    .await
    .context("while starting")?;
    let stop = instance.shutdown_handle();
    tokio::spawn(async move {
        belfry_instance::stop_signal().await;
        let _ = stop.send(true);
    });
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening {addr}")?;
    out.flush()?;
    drop(out);
    instance.wait().await.context("while serving")
}
