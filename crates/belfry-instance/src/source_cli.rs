//! `belfry-instance source …`: the admin API's source calls on the
//! database directly, for an admin at the server's shell. The secret is
//! printed on `add` and `rotate-secret` only.

use crate::SourceAction;
use anyhow::{Context, bail};
use belfry_instance::connectors::sources::{
    self, NewSource, check_users, normalize_base_url, valid_name,
};
use belfry_instance::connectors::{Kind, Secret};
use belfry_instance::hub::Hub;
use belfry_instance::store::Store;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

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

fn print_secret(out: &mut impl Write, shown: &sources::SourceSecret) -> anyhow::Result<()> {
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
fn secret_from(stdin: bool) -> anyhow::Result<Secret> {
    if !stdin {
        return Ok(Secret::generate()?);
    }
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("while reading the secret")?;
    let secret = Secret::new(line.trim().to_owned());
    secret.check().map_err(anyhow::Error::msg)?;
    Ok(secret)
}

/// Runs one `source` subcommand on the database at `db`.
pub fn run(db: &Path, public_url: &str, action: SourceAction) -> anyhow::Result<()> {
    let store = Store::open(Some(db), Arc::new(Hub::default()), 100_000)
        .context("while opening the database")?;
    let mut out = std::io::stdout().lock();
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
            let secret = secret_from(secret_stdin)?;
            let source = store
                .create_source(&new, &secret)
                .context("while adding the source")?;
            tracing::info!(source = %source.info.name, kind = %source.info.kind, "source added");
            print_secret(&mut out, &source.with_secret(public_url))?;
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
            let secret = secret_from(secret_stdin)?;
            let source = store
                .set_source_secret(&name, &secret)
                .context("while rotating")?;
            tracing::info!(source = %source.info.name, "source secret rotated");
            print_secret(&mut out, &source.with_secret(public_url))?;
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
