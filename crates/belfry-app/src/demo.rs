//! The embedded demo: a reference instance in this process, on a loopback
//! port, with a demo operator and a generator of realistic events.

use anyhow::Context;
use belfry_instance::{Config, Instance, api::admin, demo};
use belfry_proto::api::{CreateOperator, Role};
use std::path::Path;
use std::time::Duration;

/// The demo operator's login and password (public on purpose).
pub const DEMO_LOGIN: (&str, &str) = ("demo", "belfry-demo");

/// Starts the demo instance with its database at `db`; returns it running.
pub async fn start(db: &Path, every: Duration) -> anyhow::Result<Instance> {
    if let Some(dir) = db.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("while creating {}", dir.display()))?;
    }
    let config = Config {
        db: Some(db.to_owned()),
        ..Config::default()
    };
    let instance = Instance::start(config)
        .await
        .context("while starting the demo instance")?;
    for (login, password, role) in [
        (DEMO_LOGIN.0, DEMO_LOGIN.1, Role::Operator),
        ("admin", "belfry-admin", Role::Admin),
    ] {
        let req = CreateOperator {
            login: login.into(),
            password: password.into(),
            name: Some(format!("Demo {login}")),
            role: Some(role),
        };
        match admin::create(&instance.state, req).await {
            Ok(_) | Err(belfry_instance::error::ApiError::Conflict) => {}
            Err(e) => anyhow::bail!("creating the demo account {login}: {e}"),
        }
    }
    tokio::spawn(demo::run(
        instance.state.clone(),
        DEMO_LOGIN.0.into(),
        every,
    ));
    tracing::info!(url = %instance.url, "demo instance running");
    Ok(instance)
}
