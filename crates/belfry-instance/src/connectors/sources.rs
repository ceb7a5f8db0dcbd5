//! Sources: the helpdesks allowed to send, each with its kind, its base URL
//! (where its links point), its secret and its user map (helpdesk user id
//! or email → operator login), and the operators' optional emails the map
//! falls back on.

use super::{Kind, Secret};
use crate::db::{Db, DbError, Row, params};
use crate::store::{Store, StoreError, parse_ts, ts};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A source as stored, secret included (never serialized: see [`SourceView`]).
#[derive(Debug, Clone)]
pub struct Source {
    /// Row id.
    pub id: i64,
    /// The shared secret.
    pub secret: Secret,
    /// Everything else, as the admin sees it.
    pub info: SourceInfo,
}

/// What a source is, without its secret.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SourceInfo {
    /// Its name, also the last segment of its ingest path.
    pub name: String,
    /// Which helpdesk.
    pub kind: Kind,
    /// The helpdesk's base URL, no trailing slash.
    pub base_url: String,
    /// Helpdesk user id or email → operator login.
    pub users: BTreeMap<String, String>,
    /// When it was added.
    pub created_at: DateTime<Utc>,
    /// When its secret was last set.
    pub secret_set_at: DateTime<Utc>,
}

/// `POST /api/v1/admin/sources`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct NewSource {
    /// 1–64 letters, digits, `.`, `_`, `-`; the end of its ingest path.
    pub name: String,
    /// Which helpdesk.
    pub kind: Kind,
    /// The helpdesk's own address (http or https, no query): links in the
    /// notifications point there, and clients may open that origin.
    pub base_url: String,
    /// Helpdesk user id or email → operator login.
    #[serde(default)]
    pub users: BTreeMap<String, String>,
    /// The helpdesk's own signing secret, for helpdesks that make it
    /// themselves (Zendesk, Chatwoot); absent, the instance makes one.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub secret: Option<Secret>,
}

/// `POST /api/v1/admin/sources/{name}/secret`: an empty body (or `{}`)
/// makes a new secret; `secret` sets the one the helpdesk made.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct SetSecret {
    /// The helpdesk's new signing secret.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub secret: Option<Secret>,
}

/// `PUT /api/v1/admin/sources/{name}/users`: the whole user map.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UserMap {
    /// Helpdesk user id or email → operator login.
    pub users: BTreeMap<String, String>,
}

/// A source as the admin API and CLI show it: no secret.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SourceView {
    /// The source.
    #[serde(flatten)]
    pub info: SourceInfo,
    /// Where the helpdesk posts (on the instance's public origin).
    pub ingest_url: String,
}

/// The one answer that carries the secret: on creation and rotation.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SourceSecret {
    /// The source.
    pub source: SourceView,
    /// The secret, shown this once: the instance never shows it again.
    pub secret: String,
    /// Where to point the helpdesk, with the secret in it where the kind
    /// cannot sign (django-helpdesk); else the same as `source.ingest_url`.
    pub webhook_url: String,
}

/// `PUT /api/v1/admin/operators/{login}/email`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SetEmail {
    /// The operator's email at work, or null to clear it. A helpdesk user
    /// with this email maps to the operator when the source's map does not
    /// name them.
    pub email: Option<String>,
}

/// Why a source definition was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    /// The name.
    #[error("name: 1-64 letters, digits, '.', '_', '-'")]
    Name,
    /// The base URL.
    #[error("base_url: an http or https URL without credentials, query or fragment ({0})")]
    BaseUrl(String),
    /// A map entry.
    #[error("users: {0}")]
    Users(String),
}

/// Checks a source name.
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Checks and normalizes a base URL: http(s), no user info, no query or
/// fragment; returned without a trailing slash.
pub fn normalize_base_url(raw: &str) -> Result<String, Invalid> {
    let url = url::Url::parse(raw.trim()).map_err(|e| Invalid::BaseUrl(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Invalid::BaseUrl(format!("scheme {}", url.scheme())));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Invalid::BaseUrl("it carries credentials".into()));
    }
    if url.query().is_some() || url.fragment().is_some() || url.host_str().is_none() {
        return Err(Invalid::BaseUrl(
            "it has a query, a fragment or no host".into(),
        ));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// Checks a user map: keys 1–320 characters, values valid logins.
pub fn check_users(users: &BTreeMap<String, String>) -> Result<(), Invalid> {
    for (external, login) in users {
        if external.trim().is_empty() || external.len() > 320 {
            return Err(Invalid::Users("a helpdesk user is 1-320 characters".into()));
        }
        if !crate::api::admin::valid_login(login) {
            return Err(Invalid::Users(format!(
                "not a login: {:?}",
                crate::render::clip(login, 64)
            )));
        }
    }
    Ok(())
}

/// The origin (scheme, host, port) of a base URL, as links are compared.
pub fn origin_of(base_url: &str) -> Option<String> {
    url::Url::parse(base_url)
        .ok()
        .map(|u| u.origin().ascii_serialization())
        .filter(|o| o != "null")
}

impl Source {
    /// The path the helpdesk posts to.
    pub fn ingest_path(&self) -> String {
        format!("/api/v1/hooks/{}", self.info.name)
    }

    /// The view without the secret, with its ingest URL on `public_url`.
    pub fn view(&self, public_url: &str) -> SourceView {
        SourceView {
            info: self.info.clone(),
            ingest_url: format!("{public_url}{}", self.ingest_path()),
        }
    }

    /// The answer that shows the secret once.
    pub fn with_secret(&self, public_url: &str) -> SourceSecret {
        let view = self.view(public_url);
        let webhook_url = match self.info.kind {
            // django-helpdesk posts with `requests`, which sends a URL's
            // user info as Basic auth; the secret travels as its password.
            Kind::DjangoHelpdesk => match url::Url::parse(&view.ingest_url) {
                Ok(mut u) => {
                    let _ = u.set_username("belfry");
                    let _ = u.set_password(Some(self.secret.expose()));
                    u.to_string()
                }
                Err(_) => view.ingest_url.clone(),
            },
            _ => view.ingest_url.clone(),
        };
        SourceSecret {
            source: view,
            secret: self.secret.expose().to_owned(),
            webhook_url,
        }
    }
}

fn source_from_row(row: &Row<'_>) -> Result<Source, DbError> {
    let kind: String = row.get("kind")?;
    let created: String = row.get("created_at")?;
    let secret_set: String = row.get("secret_set_at")?;
    Ok(Source {
        id: row.get("id")?,
        secret: Secret::new(row.get("secret")?),
        info: SourceInfo {
            name: row.get("name")?,
            kind: Kind::from_name(&kind).unwrap_or(Kind::Generic),
            base_url: row.get("base_url")?,
            users: BTreeMap::new(),
            created_at: parse_ts(&created)?,
            secret_set_at: parse_ts(&secret_set)?,
        },
    })
}

fn load_users(conn: &mut Db, source: &mut Source) -> Result<(), DbError> {
    source.info.users = conn
        .query(
            "SELECT external, login FROM source_users WHERE source_id = ?1",
            params![source.id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?
        .into_iter()
        .collect();
    Ok(())
}

fn write_users(
    tx: &mut Db,
    source_id: i64,
    users: &BTreeMap<String, String>,
) -> Result<(), DbError> {
    tx.execute(
        "DELETE FROM source_users WHERE source_id = ?1",
        params![source_id],
    )?;
    for (external, login) in users {
        // Two keys differing only in case are one key: the later wins.
        tx.execute(
            "INSERT INTO source_users (source_id, external, login) VALUES (?1, ?2, ?3)
             ON CONFLICT (source_id, external) DO UPDATE SET login = excluded.login",
            params![source_id, external.trim(), login],
        )?;
    }
    Ok(())
}

impl Store {
    /// Adds a source.
    pub fn create_source(&self, new: &NewSource, secret: &Secret) -> Result<Source, StoreError> {
        let mut conn = self.lock();
        let mut tx = conn.transaction()?;
        let now = ts(Utc::now());
        let inserted = tx.insert(
            "INSERT INTO sources (name, kind, base_url, secret, created_at, secret_set_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
            params![new.name.as_str(), new.kind.as_str(), new.base_url.as_str(), secret.expose(), now],
        );
        let id = match inserted {
            Err(e) if e.is_conflict() => return Err(StoreError::Conflict),
            other => other?,
        };
        write_users(&mut tx, id, &new.users)?;
        tx.commit()?;
        drop(conn);
        self.source(&new.name)?.ok_or(StoreError::NotFound)
    }

    /// Every source, by name.
    pub fn sources(&self) -> Result<Vec<Source>, StoreError> {
        let mut conn = self.lock();
        let mut out = conn.query("SELECT * FROM sources ORDER BY name", &[], source_from_row)?;
        for s in &mut out {
            load_users(&mut conn, s)?;
        }
        Ok(out)
    }

    /// One source by name.
    pub fn source(&self, name: &str) -> Result<Option<Source>, StoreError> {
        self.source_where("name = ?1", name.into())
    }

    /// One source by row id.
    pub fn source_by_id(&self, id: i64) -> Result<Option<Source>, StoreError> {
        self.source_where("id = ?1", id.into())
    }

    fn source_where(
        &self,
        condition: &str,
        value: crate::db::Value,
    ) -> Result<Option<Source>, StoreError> {
        let mut conn = self.lock();
        let found = conn.query_opt(
            &format!("SELECT * FROM sources WHERE {condition}"),
            &[value],
            source_from_row,
        )?;
        match found {
            Some(mut s) => {
                load_users(&mut conn, &mut s)?;
                Ok(Some(s))
            }
            None => Ok(None),
        }
    }

    /// Removes a source with its map, deliveries and ticket states.
    pub fn remove_source(&self, name: &str) -> Result<(), StoreError> {
        let mut conn = self.lock();
        match conn.execute("DELETE FROM sources WHERE name = ?1", params![name])? {
            0 => Err(StoreError::NotFound),
            _ => Ok(()),
        }
    }

    /// Replaces a source's secret; the old one stops working at once.
    pub fn set_source_secret(&self, name: &str, secret: &Secret) -> Result<Source, StoreError> {
        {
            let mut conn = self.lock();
            let n = conn.execute(
                "UPDATE sources SET secret = ?2, secret_set_at = ?3 WHERE name = ?1",
                params![name, secret.expose(), ts(Utc::now())],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
        }
        self.source(name)?.ok_or(StoreError::NotFound)
    }

    /// Replaces a source's user map.
    pub fn set_source_users(
        &self,
        name: &str,
        users: &BTreeMap<String, String>,
    ) -> Result<Source, StoreError> {
        {
            let mut conn = self.lock();
            let mut tx = conn.transaction()?;
            let id: i64 = tx
                .query_opt(
                    "SELECT id FROM sources WHERE name = ?1",
                    params![name],
                    |r| r.get(0),
                )?
                .ok_or(StoreError::NotFound)?;
            write_users(&mut tx, id, users)?;
            tx.commit()?;
        }
        self.source(name)?.ok_or(StoreError::NotFound)
    }

    /// Sets or clears an operator's email; another operator's email is a conflict.
    pub fn set_operator_email(&self, login: &str, email: Option<&str>) -> Result<(), StoreError> {
        let mut conn = self.lock();
        match conn.execute(
            "UPDATE operators SET email = ?2 WHERE login = ?1",
            params![login, email],
        ) {
            Err(e) if e.is_conflict() => Err(StoreError::Conflict),
            Ok(0) => Err(StoreError::NotFound),
            Ok(_) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The operator (id, login) a helpdesk user is: the first of `keys`
    /// (the user's id, then email) the source's map names, else an operator
    /// whose email is one of them.
    pub fn resolve_user(
        &self,
        source_id: i64,
        keys: &[String],
    ) -> Result<Option<(i64, String)>, StoreError> {
        let mut conn = self.lock();
        for key in keys {
            if let Some(found) = conn.query_opt(
                "SELECT o.id, o.login FROM source_users m JOIN operators o ON o.login = m.login
                 WHERE m.source_id = ?1 AND m.external = ?2",
                params![source_id, key],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )? {
                return Ok(Some(found));
            }
        }
        for key in keys.iter().filter(|k| k.contains('@')) {
            if let Some(found) = conn.query_opt(
                "SELECT id, login FROM operators WHERE email = ?1 COLLATE NOCASE",
                params![key],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// An operator (id, login) by login.
    pub fn operator_id_by_login(&self, login: &str) -> Result<Option<(i64, String)>, StoreError> {
        let mut conn = self.lock();
        Ok(conn.query_opt(
            "SELECT id, login FROM operators WHERE login = ?1",
            params![login],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_checked_and_normalized() {
        assert_eq!(
            normalize_base_url("https://acme.zendesk.com/").as_deref(),
            Ok("https://acme.zendesk.com")
        );
        assert_eq!(
            normalize_base_url("http://127.0.0.1:8000/helpdesk/").as_deref(),
            Ok("http://127.0.0.1:8000/helpdesk")
        );
        for bad in [
            "ftp://x",
            "https://u:p@x.example",
            "https://x.example/?a=1",
            "nonsense",
            "javascript:alert(1)",
        ] {
            assert!(normalize_base_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn secrets_do_not_print() {
        let s = Secret::new("whs_very_secret".into());
        assert_eq!(format!("{s:?}"), "<redacted>");
    }
}
