//! `belfry-instance`: run the reference instance, create accounts, print
//! the OpenAPI document.

use anyhow::{Context, bail};
use belfry_instance::{Config, Instance, api, auth, demo, hub::Hub, store::Store};
use belfry_proto::api::{CreateOperator, Role};
use clap::{Args, Parser, Subcommand};
use std::io::BufRead;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser)]
#[command(version, about = "The Belfry reference instance")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the REST API and the stream.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8700", env = "BELFRY_LISTEN")]
        listen: String,
        /// SQLite database file (created if missing), or a PostgreSQL URL
        /// (`postgres://user@host/db`) that several nodes may share.
        #[arg(long, default_value = "belfry-instance.db", env = "BELFRY_DB")]
        db: PathBuf,
        /// Public origin for links; http://<listen> when absent.
        #[arg(long, env = "BELFRY_PUBLIC_URL")]
        public_url: Option<String>,
        /// Heartbeat interval on the stream, in seconds.
        #[arg(long, default_value_t = belfry_proto::stream::DEFAULT_HEARTBEAT_S)]
        heartbeat_s: u32,
        /// Events per operator kept for stream replay.
        #[arg(long, default_value_t = 100_000)]
        replay_window: u64,
        /// Create the demo accounts (admin / belfry-admin, demo / belfry-demo)
        /// if missing and emit demo events for `demo`.
        #[arg(long)]
        demo: bool,
        /// Milliseconds between demo events.
        #[arg(long, default_value_t = 4000)]
        demo_every_ms: u64,
        /// Serve this directory's update feed and artifacts under /updates/
        /// (docs/admin.md, "Hosting the update feed").
        #[arg(long, env = "BELFRY_UPDATES_DIR")]
        updates_dir: Option<PathBuf>,
        #[command(flatten)]
        limits: Limits,
    },
    /// Create an account. The password is read from BELFRY_PASSWORD, or else
    /// from the first line of standard input.
    CreateOperator {
        /// SQLite database file, or a PostgreSQL URL.
        #[arg(long, default_value = "belfry-instance.db", env = "BELFRY_DB")]
        db: PathBuf,
        /// Login.
        #[arg(long)]
        login: String,
        /// Display name.
        #[arg(long)]
        name: Option<String>,
        /// Make it an admin.
        #[arg(long)]
        admin: bool,
        /// The operator's email at work: a helpdesk user with this email
        /// maps to them (docs/connectors.md).
        #[arg(long)]
        email: Option<String>,
    },
    /// Manage the helpdesks that send webhooks (docs/connectors.md).
    Source(belfry_instance::connectors::cli::SourceArgs),
    /// Print the OpenAPI document of the REST API.
    Openapi,
}

/// What one client may take (docs/protocol.md, "Limits of the reference
/// instance"); each defaults to the instance's built-in value.
#[derive(Args)]
struct Limits {
    /// Open streams on this node; one more is refused with 503 before the
    /// upgrade. Default: what the open-file limit leaves room for.
    #[arg(long)]
    max_streams: Option<usize>,
    /// Open streams per operator.
    #[arg(long)]
    max_streams_per_operator: Option<usize>,
    /// Open streams per token.
    #[arg(long)]
    max_streams_per_token: Option<usize>,
    /// Frames per second one stream may send, sustained.
    #[arg(long)]
    stream_frame_rate: Option<u32>,
    /// Frames one stream may send at once before the rate applies.
    #[arg(long)]
    stream_frame_burst: Option<u32>,
    /// Seconds one frame to a client may wait to be sent before the client
    /// is dropped as not reading.
    #[arg(long)]
    stream_write_timeout_s: Option<u64>,
    /// Largest REST body, in bytes.
    #[arg(long)]
    max_body_bytes: Option<usize>,
    /// Largest webhook body a source may post, in bytes.
    #[arg(long)]
    max_hook_body_bytes: Option<usize>,
    /// Largest request head (request line and headers), in bytes; at least 8192.
    #[arg(long)]
    max_header_bytes: Option<usize>,
    /// Seconds a client may take to send a request head (and an idle
    /// keep-alive connection stays open).
    #[arg(long)]
    header_read_timeout_s: Option<u64>,
    /// Seconds a REST request may take, its body's upload included.
    #[arg(long)]
    request_timeout_s: Option<u64>,
}

impl Limits {
    fn apply(self, mut c: Config) -> Config {
        let secs = |s: u64| Duration::from_secs(s.max(1));
        c.max_streams = self.max_streams.or(c.max_streams);
        c.max_streams_per_operator = self
            .max_streams_per_operator
            .unwrap_or(c.max_streams_per_operator);
        c.max_streams_per_token = self
            .max_streams_per_token
            .unwrap_or(c.max_streams_per_token);
        c.stream_frame_rate = self.stream_frame_rate.unwrap_or(c.stream_frame_rate);
        c.stream_frame_burst = self.stream_frame_burst.unwrap_or(c.stream_frame_burst);
        c.stream_write_timeout = self
            .stream_write_timeout_s
            .map_or(c.stream_write_timeout, secs);
        c.max_body_bytes = self.max_body_bytes.unwrap_or(c.max_body_bytes);
        c.max_hook_body_bytes = self.max_hook_body_bytes.unwrap_or(c.max_hook_body_bytes);
        c.max_header_bytes = self.max_header_bytes.unwrap_or(c.max_header_bytes);
        c.header_read_timeout = self
            .header_read_timeout_s
            .map_or(c.header_read_timeout, secs);
        c.request_timeout = self.request_timeout_s.map_or(c.request_timeout, secs);
        c
    }
}

/// Demo accounts; the passwords are public on purpose (README).
const DEMO_ACCOUNTS: [(&str, &str, &str, Role); 2] = [
    ("admin", "belfry-admin", "Demo Admin", Role::Admin),
    ("demo", "belfry-demo", "Demo Operator", Role::Operator),
];

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,belfry_instance=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Openapi => {
            let doc = api::openapi_json();
            std::io::Write::write_all(&mut std::io::stdout(), doc.as_bytes())
                .context("while writing")?;
            Ok(())
        }
        Command::CreateOperator {
            db,
            login,
            name,
            admin,
            email,
            // Blocking work (PostgreSQL's client runs its own runtime) off
            // the async threads.
        } => tokio::task::block_in_place(|| create_operator(db, login, name, admin, email)),
        Command::Source(args) => tokio::task::block_in_place(|| {
            belfry_instance::connectors::cli::run(
                args,
                &mut std::io::stdout().lock(),
                &mut std::io::stdin().lock(),
            )
        }),
        Command::Serve {
            listen,
            db,
            public_url,
            heartbeat_s,
            replay_window,
            demo,
            demo_every_ms,
            updates_dir,
            limits,
        } => {
            raise_open_files();
            let listener = belfry_instance::serve::bind(&listen)
                .await
                .with_context(|| format!("while binding {listen}"))?;
            let config = limits.apply(Config {
                db: Some(db),
                public_url,
                heartbeat: Duration::from_secs(u64::from(heartbeat_s.max(1))),
                replay_window,
                updates_dir,
                ..Config::default()
            });
            let instance = Instance::serve(listener, config)
                .await
                .context("while starting")?;
            if demo {
                for (login, password, name, role) in DEMO_ACCOUNTS {
                    // The demo passwords are public (README); still, none goes to the log.
                    let req = CreateOperator {
                        login: login.into(),
                        password: password.into(),
                        name: Some(name.into()),
                        role: Some(role),
                    };
                    match api::admin::create(&instance.state, req).await {
                        Ok(_) => tracing::info!(login, "demo account created"),
                        Err(belfry_instance::error::ApiError::Conflict) => {}
                        Err(e) => bail!("creating demo account {login}: {e}"),
                    }
                }
                let every = Duration::from_millis(demo_every_ms.max(50));
                tokio::spawn(demo::run(instance.state.clone(), "demo".into(), every));
                tracing::info!(url = %instance.url, "demo instance: sign in as demo / belfry-demo");
            }
            let stop = instance.shutdown_handle();
            tokio::spawn(async move {
                belfry_instance::stop_signal().await;
                tracing::info!("stopping");
                let _ = stop.send(true);
            });
            instance.wait().await.context("while serving")
        }
    }
}

/// Raises the open-file limit as far as the system allows (every stream is
/// a descriptor) and says how many streams that permits.
fn raise_open_files() {
    match belfry_instance::fds::raise() {
        Some(r) => tracing::info!(
            open_files = r.now,
            before = r.before,
            streams = belfry_instance::fds::streams_for(r.now),
            "open-file limit raised as far as the system allows; streams permitted"
        ),
        None => tracing::debug!("no open-file limit on this platform"),
    }
}

fn create_operator(
    db: PathBuf,
    login: String,
    name: Option<String>,
    admin: bool,
    email: Option<String>,
) -> anyhow::Result<()> {
    if !api::admin::valid_login(&login) {
        bail!("login: 1-64 letters, digits, '.', '_', '-', '@'");
    }
    let password = match std::env::var("BELFRY_PASSWORD") {
        Ok(p) => p,
        Err(_) => {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .context("while reading the password")?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    if !(8..=256).contains(&password.chars().count()) {
        bail!("password: 8-256 characters");
    }
    let store = Store::open_at(
        Some(&db.to_string_lossy()),
        Arc::new(Hub::default()),
        100_000,
    )
    .context("while opening the database")?;
    let hash = auth::hash_password(&password).context("while hashing")?;
    let role = if admin { Role::Admin } else { Role::Operator };
    let name = name.unwrap_or_else(|| login.clone());
    let op = store
        .create_operator(&login, &name, role, &hash)
        .context("while creating the account")?;
    if let Some(email) = email {
        store
            .set_operator_email(&op.login, Some(email.trim()))
            .context("while setting the email")?;
    }
    tracing::info!(login = %op.login, id = op.id, ?role, "account created");
    Ok(())
}
