//! `belfry-instance source …`: the admin API's source calls on the
//! database directly, for an admin at the server's shell. The secret is
//! printed on `add` and `rotate-secret` only. Here rather than in the
//! binary so that tests run the real command line (`run_from`); it is the
//! binary's edge all the same, so its errors are anyhow's.

use crate::connectors::sources::{self, NewSource, check_users, normalize_base_url, valid_name};
use crate::connectors::{Kind, Secret};
use crate::hub::Hub;
use crate::store::Store;
use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::Arc;

/// `belfry-instance source`: where the database is, and what to do.
#[derive(Debug, Args)]
pub struct SourceArgs {
    /// SQLite database file, or a PostgreSQL URL.
    #[arg(
        long,
        default_value = "belfry-instance.db",
        env = "BELFRY_DB",
        global = true
    )]
    pub db: PathBuf,
    /// The instance's public origin, for the ingest URLs printed.
    #[arg(
        long,
        default_value = "http://127.0.0.1:8700",
        env = "BELFRY_PUBLIC_URL",
        global = true
    )]
    pub public_url: String,
    /// What to do.
    #[command(subcommand)]
    pub action: SourceAction,
}

/// What `belfry-instance source` does.
#[derive(Debug, Subcommand)]
pub enum SourceAction {
    /// Add a source; prints its webhook URL and secret (shown this once).
    Add {
        /// Name, the end of its ingest path.
        name: String,
        /// generic, connectiveone, zendesk, chatwoot, zammad or django-helpdesk.
        #[arg(long)]
        kind: String,
        /// The helpdesk's own address; links point there.
        #[arg(long)]
        base_url: String,
        /// `helpdesk-user=operator-login` (the user's id or email); repeat.
        #[arg(long = "user", value_name = "USER=LOGIN")]
        users: Vec<String>,
        /// Read the helpdesk's own signing secret from the first line of
        /// standard input (Zendesk and Chatwoot make it themselves);
        /// without it the instance makes one.
        #[arg(long)]
        secret_stdin: bool,
    },
    /// List sources (no secrets).
    List,
    /// Remove a source with its deliveries.
    Remove {
        /// Name.
        name: String,
    },
    /// Give a source a new secret (the old one stops at once); prints it this once.
    RotateSecret {
        /// Name.
        name: String,
        /// Read the helpdesk's new signing secret from standard input
        /// instead of making one.
        #[arg(long)]
        secret_stdin: bool,
    },
    /// Replace a source's user map.
    Users {
        /// Name.
        name: String,
        /// `helpdesk-user=operator-login`; repeat. None clears the map.
        #[arg(long = "user", value_name = "USER=LOGIN")]
        users: Vec<String>,
    },
    /// A source's latest deliveries, newest first.
    Deliveries {
        /// Name.
        name: String,
        /// How many.
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
}

/// The `source` command line alone (for [`run_from`]).
#[derive(Debug, Parser)]
#[command(name = "source")]
struct SourceCommand {
    #[command(flatten)]
    args: SourceArgs,
}

/// Parses `argv` (without the program name) as `belfry-instance source`
/// would, and runs it.
pub fn run_from(argv: &[&str], out: &mut dyn Write, stdin: &mut dyn BufRead) -> anyhow::Result<()> {
    let parsed =
        SourceCommand::try_parse_from(std::iter::once("source").chain(argv.iter().copied()))?;
    run(parsed.args, out, stdin)
}

fn user_map(pairs: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut map = BTreeMap::new();
    for pair in pairs {
        let Some((user, login)) = pair.rsplit_once('=') else {
            bail!("--user {pair:?}: expected helpdesk-user=operator-login");
        };
        map.insert(user.trim().to_owned(), login.trim().to_owned());
    }
    check_users(&map)?;
    Ok(map)
}

fn print_secret(out: &mut dyn Write, shown: &sources::SourceSecret) -> anyhow::Result<()> {
    writeln!(
        out,
        "source:      {} ({})",
        shown.source.info.name, shown.source.info.kind
    )?;
    writeln!(out, "webhook URL: {}", shown.webhook_url)?;
    writeln!(out, "secret:      {}", shown.secret)?;
    writeln!(
        out,
        "The secret is shown this once; `rotate-secret` makes a new one."
    )?;
    Ok(())
}

/// The helpdesk's secret from standard input's first line, or a new one.
fn secret_from(from_stdin: bool, stdin: &mut dyn BufRead) -> anyhow::Result<Secret> {
    if !from_stdin {
        return Ok(Secret::generate()?);
    }
    let mut line = String::new();
    stdin
        .read_line(&mut line)
        .context("while reading the secret")?;
    let secret = Secret::new(line.trim().to_owned());
    secret.check().map_err(anyhow::Error::msg)?;
    Ok(secret)
}

/// Runs one `source` subcommand, printing to `out`.
pub fn run(args: SourceArgs, out: &mut dyn Write, stdin: &mut dyn BufRead) -> anyhow::Result<()> {
    let SourceArgs {
        db,
        public_url,
        action,
    } = args;
    let public_url = public_url.trim_end_matches('/');
    let store = Store::open_at(
        Some(&db.to_string_lossy()),
        Arc::new(Hub::default()),
        100_000,
    )
    .context("while opening the database")?;
    match action {
        SourceAction::Add {
            name,
            kind,
            base_url,
            users,
            secret_stdin,
        } => {
            if !valid_name(&name) {
                bail!("{}", sources::Invalid::Name);
            }
            let Some(kind) = Kind::from_name(&kind) else {
                let all: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
                bail!("--kind: one of {}", all.join(", "));
            };
            let new = NewSource {
                name,
                kind,
                base_url: normalize_base_url(&base_url)?,
                users: user_map(&users)?,
                secret: None,
            };
            let secret = secret_from(secret_stdin, stdin)?;
            let source = store
                .create_source(&new, &secret)
                .context("while adding the source")?;
            tracing::info!(source = %source.info.name, kind = %source.info.kind, "source added");
            print_secret(out, &source.with_secret(public_url))?;
        }
        SourceAction::List => {
            for s in store.sources()? {
                let v = s.view(public_url);
                writeln!(
                    out,
                    "{}\t{}\t{}\t{}",
                    v.info.name, v.info.kind, v.info.base_url, v.ingest_url
                )?;
                for (user, login) in &v.info.users {
                    writeln!(out, "\t{user} -> {login}")?;
                }
            }
        }
        SourceAction::Remove { name } => {
            store.remove_source(&name).context("while removing")?;
            writeln!(out, "removed {name}")?;
        }
        SourceAction::RotateSecret { name, secret_stdin } => {
            let secret = secret_from(secret_stdin, stdin)?;
            let source = store
                .set_source_secret(&name, &secret)
                .context("while rotating")?;
            tracing::info!(source = %source.info.name, "source secret rotated");
            print_secret(out, &source.with_secret(public_url))?;
        }
        SourceAction::Users { name, users } => {
            let source = store
                .set_source_users(&name, &user_map(&users)?)
                .context("while setting the user map")?;
            writeln!(
                out,
                "{}: {} mapped users",
                source.info.name,
                source.info.users.len()
            )?;
        }
        SourceAction::Deliveries { name, limit } => {
            let id = store
                .source_id(&name)?
                .with_context(|| format!("no source named {name}"))?;
            for d in store.deliveries(id, limit)? {
                let made: Vec<String> = d
                    .notifications
                    .iter()
                    .map(|m| format!("{} to {} ({})", m.type_id, m.operator, m.id))
                    .collect();
                writeln!(
                    out,
                    "#{}\t{}\t{}\t{}\t{}\t{}",
                    d.id,
                    d.received_at.format("%Y-%m-%d %H:%M:%S"),
                    serde_json::to_value(d.outcome)?.as_str().unwrap_or(""),
                    d.event.as_deref().unwrap_or("-"),
                    d.reason.as_deref().unwrap_or(""),
                    made.join(", ")
                )?;
            }
        }
    }
    Ok(())
}
