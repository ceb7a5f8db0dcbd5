//! The embedded demo: a reference instance in this process, on a loopback
//! port, with a demo operator and a generator of realistic events.
//!
//! The session knows a running demo only as a [`Demo`] and starts one only
//! through a [`Starter`] its binary hands it: `belfry` hands `STARTER`
//! (with the `demo` feature), `belfry-headless` none. The small binary's
//! package leaves the feature off, so it neither compiles nor links the
//! instance's code (about 1.1 MB with what it monomorphises, nearly all of
//! it mapped by an idle process; see docs/benchmarks.md).

#[cfg(feature = "demo")]
use anyhow::Context;
#[cfg(feature = "demo")]
use belfry_instance::{Config, Instance, api::admin, demo};
#[cfg(feature = "demo")]
use belfry_proto::api::{CreateOperator, Role};
use std::future::Future;
#[cfg(feature = "demo")]
use std::path::Path;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

/// A future that can move between threads, boxed.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// A running demo instance.
pub trait Running: Send {
    /// Its address.
    fn url(&self) -> &str;
    /// Stops it.
    fn stop(self: Box<Self>) -> BoxFuture<anyhow::Result<()>>;
}

/// A running demo instance, whatever starts it.
pub type Demo = Box<dyn Running>;

/// Starts a demo instance with its database at the path and an event every
/// so often.
pub type Starter = fn(PathBuf, Duration) -> BoxFuture<anyhow::Result<Demo>>;

/// The embedded reference instance as a [`Starter`].
#[cfg(feature = "demo")]
pub const STARTER: Starter = start_boxed;

#[cfg(feature = "demo")]
fn start_boxed(db: PathBuf, every: Duration) -> BoxFuture<anyhow::Result<Demo>> {
    Box::pin(async move { Ok(Box::new(start(&db, every).await?) as Demo) })
}

#[cfg(feature = "demo")]
impl Running for Instance {
    fn url(&self) -> &str {
        &self.url
    }

    fn stop(self: Box<Self>) -> BoxFuture<anyhow::Result<()>> {
        Box::pin(async move {
            Instance::stop(*self)
                .await
                .context("while stopping the demo instance")
        })
    }
}

/// The demo operator's login and password (public on purpose).
pub const DEMO_LOGIN: (&str, &str) = ("demo", "belfry-demo");

/// Starts the demo instance with its database at `db`; returns it running.
#[cfg(feature = "demo")]
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
