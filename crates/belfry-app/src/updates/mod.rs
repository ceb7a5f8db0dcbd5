//! Updates for both apps: where the feed is (the organization's managed
//! configuration, else the feed and key built into the release), asking
//! it whether a newer version is out, when to ask, and one state machine
//! ([`Updater`]) behind an [`Installer`]. The full app's installer
//! downloads, verifies and installs through the official updater plugin;
//! the small tray's ([`HandOverInstaller`]) asks the feed itself and hands over to
//! the full app to install: it never downloads.
//!
//! The feed is the Tauri updater's JSON (`version`, `notes`, `platforms` →
//! `linux-x86_64` → `url` + `signature`, or the dynamic form with `url` and
//! `signature` at the top), read the way the plugin reads it.

use belfry_core::config::UpdateChannel;
use belfry_core::managed::Managed;
use chrono::{DateTime, TimeDelta, Utc};
use semver::Version;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

mod hand_over;
mod machine;

pub use hand_over::HandOverInstaller;
pub use machine::{Found, InstallError, Installer, Refusal, UpdateInfo, UpdateState, Updater};

// One reason for both apps: the full app shows it in the General tab, the
// small tray says it in its log.
/// Why the app does not look for updates.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Off {
    /// The organization turned them off (it deploys new versions itself).
    #[error("the organization turned updates off")]
    Organization,
    /// This build carries no update key (a package manager updates it).
    #[error("this build carries no update key")]
    NoKey,
    /// This build names no feed.
    #[error("this build names no update feed")]
    NoFeed,
    /// The feed address is not a usable https URL.
    #[error("{message}")]
    BadFeed {
        /// What is wrong with it.
        message: String,
    },
}

/// The feed and key built into this release (`plugins.updater` in
/// `src-tauri/tauri.conf.json`, filled in by the release workflow).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuiltIn {
    /// The feed address (a template: it may hold `{{channel}}`).
    pub feed: Option<String>,
    /// The public key updates are signed with.
    pub pubkey: Option<String>,
}

impl BuiltIn {
    /// From the `plugins.updater` object of a Tauri configuration.
    pub fn from_updater(updater: Option<&serde_json::Value>) -> Self {
        let pubkey = updater
            .and_then(|u| u.get("pubkey"))
            .and_then(|k| k.as_str())
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(str::to_owned);
        let feed = updater
            .and_then(|u| u.get("endpoints"))
            .and_then(|e| e.get(0))
            .and_then(|e| e.as_str())
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(str::to_owned);
        Self { feed, pubkey }
    }

    /// From a `tauri.conf.json` and the configuration `tauri build
    /// --config` merged over it (which the Tauri CLI hands to the compiler
    /// as `TAURI_CONFIG`, a JSON merge patch: the release workflow puts the
    /// key and feed there). A file that does not parse carries no key.
    pub fn from_tauri_conf(conf: &str, overlay: Option<&str>) -> Self {
        let mut merged: serde_json::Value = serde_json::from_str(conf).unwrap_or_default();
        if let Some(patch) = overlay.and_then(|o| serde_json::from_str(o).ok()) {
            merge_patch(&mut merged, patch);
        }
        Self::from_updater(merged.pointer("/plugins/updater"))
    }
}

/// RFC 7396, as Tauri merges `--config` over the file: objects merge key by
/// key, `null` removes, anything else replaces.
fn merge_patch(target: &mut serde_json::Value, patch: serde_json::Value) {
    use serde_json::Value;
    let Value::Object(patch) = patch else {
        *target = patch;
        return;
    };
    if !target.is_object() {
        *target = Value::Object(serde_json::Map::new());
    }
    if let Value::Object(map) = target {
        for (key, value) in patch {
            if value.is_null() {
                map.remove(&key);
            } else {
                merge_patch(map.entry(key).or_insert(Value::Null), value);
            }
        }
    }
}

/// Where the app looks for updates and which key they must be signed with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The feed, its channel filled in.
    pub feed: Url,
    /// The update key (the full app's updater checks downloads against it).
    pub pubkey: String,
}

/// The feed address for `channel`.
pub fn feed_for(template: &str, channel: UpdateChannel) -> Result<Url, Off> {
    let address = template
        .replace("{{channel}}", channel.as_str())
        .replace("%7B%7Bchannel%7D%7D", channel.as_str());
    let bad = |message: String| Off::BadFeed { message };
    let url = Url::parse(&address).map_err(|e| bad(format!("{address}: {e}")))?;
    // TLS is verified for the feed and the download alike; a plain-http
    // feed would let anyone on the path hold updates back.
    if url.scheme() != "https" {
        return Err(bad(format!("{address} is not an https address")));
    }
    Ok(url)
}

/// The feed address (a template) and the key: the organization's where it
/// set them, else the built-in ones.
pub fn configured(managed: &Managed, built_in: &BuiltIn) -> (Option<String>, Option<String>) {
    (
        managed
            .update_feed()
            .map(str::to_owned)
            .or_else(|| built_in.feed.clone()),
        managed
            .update_pubkey()
            .map(str::to_owned)
            .or_else(|| built_in.pubkey.clone()),
    )
}

/// Works out the source from the managed configuration and the built-in
/// one; `Err` says why updates are off.
pub fn source(
    managed: &Managed,
    built_in: &BuiltIn,
    channel: UpdateChannel,
) -> Result<Source, Off> {
    if !managed.updates_enabled() {
        return Err(Off::Organization);
    }
    let (template, pubkey) = configured(managed, built_in);
    let pubkey = pubkey.ok_or(Off::NoKey)?;
    let template = template.ok_or(Off::NoFeed)?;
    Ok(Source {
        feed: feed_for(&template, channel)?,
        pubkey,
    })
}

/// The organization's feed decides the channel (its address has no
/// `{{channel}}`).
pub fn channel_locked(managed: &Managed) -> bool {
    managed
        .update_feed()
        .is_some_and(|f| !f.contains("{{channel}}"))
}

/// The feed in use has one channel only.
pub fn single_channel(managed: &Managed, built_in: &BuiltIn) -> bool {
    configured(managed, built_in)
        .0
        .is_none_or(|f| !f.contains("{{channel}}"))
}

/// The most of a feed's answer read: a feed is a few hundred bytes per
/// platform, so anything near this is not a feed.
pub const MAX_FEED_BYTES: usize = 1 << 20;

/// Longest a check may take.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(60);

/// Why asking the feed failed.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The request could not be made or answered (network, TLS, timeout).
    #[error("network: {0}")]
    Network(String),
    /// The feed answered with an error status.
    #[error("the feed answered HTTP {0}")]
    Status(u16),
    /// The answer is too long to be a feed.
    #[error("an answer over {MAX_FEED_BYTES} bytes")]
    TooBig,
    /// The answer is not the updater's JSON.
    #[error("not an update feed: {0}")]
    Decode(String),
    /// The feed has no build for this platform (the full app's updater
    /// would refuse it too).
    #[error("the feed has no build for {0}")]
    NoBuild(String),
    /// This platform is one the updater does not serve.
    #[error("updates are not offered for this platform")]
    Unsupported,
}

/// One entry of a feed, as the updater plugin reads it.
#[derive(Debug, Deserialize)]
struct Release {
    #[serde(alias = "name")]
    version: String,
    /// The static form: a build per platform.
    platforms: Option<HashMap<String, serde_json::Value>>,
    /// The dynamic form: the server already picked this platform's build.
    url: Option<String>,
}

/// The updater's name for this platform, `{os}-{arch}` (as
/// tauri-plugin-updater names them).
pub fn target() -> Option<String> {
    let os = if cfg!(target_os = "linux") {
        "linux"
    } else if cfg!(target_os = "macos") {
        "darwin"
    } else if cfg!(target_os = "windows") {
        "windows"
    } else {
        return None;
    };
    let arch = if cfg!(target_arch = "x86_64") {
        "x86_64"
    } else if cfg!(target_arch = "aarch64") {
        "aarch64"
    } else if cfg!(target_arch = "x86") {
        "i686"
    } else if cfg!(target_arch = "arm") {
        "armv7"
    } else if cfg!(target_arch = "riscv64") {
        "riscv64"
    } else {
        return None;
    };
    Some(format!("{os}-{arch}"))
}

/// The version a feed's answer offers over `current` for `target`, `None`
/// when it offers nothing newer. Newer is semver's order, as the updater
/// compares (a leading `v` is dropped, as it drops it).
pub fn offered(
    body: &[u8],
    current: &Version,
    target: &str,
) -> Result<Option<Version>, CheckError> {
    let release: Release =
        serde_json::from_slice(body).map_err(|e| CheckError::Decode(e.to_string()))?;
    let version = Version::parse(release.version.trim().trim_start_matches('v'))
        .map_err(|e| CheckError::Decode(format!("version {:?}: {e}", release.version)))?;
    // The updater looks for `{target}-{installer}`, then `{target}`.
    let has_build = match &release.platforms {
        Some(platforms) => platforms.keys().any(|k| {
            k == target
                || k.strip_prefix(target)
                    .is_some_and(|rest| rest.starts_with('-'))
        }),
        None => release.url.is_some(),
    };
    if !has_build {
        return Err(CheckError::NoBuild(target.to_owned()));
    }
    Ok((version > *current).then_some(version))
}

/// Follows redirects (a release host's `latest` link redirects to its
/// file store) but only to https, as the feed itself must be.
fn https_only() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        if attempt.previous().len() > 10 {
            attempt.error("too many redirects")
        } else if attempt.url().scheme() != "https" {
            attempt.error("a redirect off https")
        } else {
            attempt.follow()
        }
    })
}

/// A failed request in words with its causes (reqwest's own message hides
/// the reason an admin can act on, an unknown CA say, in its sources).
fn network(e: &reqwest::Error) -> CheckError {
    CheckError::Network(belfry_core::net::with_causes(e))
}

/// Asks `feed` whether there is a version newer than `current`, over `tls`
/// (the system's roots plus the organization's extra CA). Reads the
/// answer only: nothing is downloaded.
pub async fn check(
    feed: &Url,
    tls: &Arc<rustls::ClientConfig>,
    current: &Version,
) -> Result<Option<Version>, CheckError> {
    let target = target().ok_or(CheckError::Unsupported)?;
    let client = reqwest::Client::builder()
        .use_preconfigured_tls((**tls).clone())
        .connect_timeout(Duration::from_secs(10))
        .timeout(CHECK_TIMEOUT)
        .user_agent(concat!("Belfry/", env!("CARGO_PKG_VERSION")))
        .redirect(https_only())
        .build()
        .map_err(|e| network(&e))?;
    let mut res = client
        .get(feed.clone())
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| network(&e))?;
    // The updater's "no update" answer.
    if res.status() == reqwest::StatusCode::NO_CONTENT {
        return Ok(None);
    }
    if !res.status().is_success() {
        return Err(CheckError::Status(res.status().as_u16()));
    }
    if res
        .content_length()
        .is_some_and(|n| n > MAX_FEED_BYTES as u64)
    {
        return Err(CheckError::TooBig);
    }
    let mut body = Vec::new();
    while let Some(chunk) = res.chunk().await.map_err(|e| network(&e))? {
        if body.len() + chunk.len() > MAX_FEED_BYTES {
            return Err(CheckError::TooBig);
        }
        body.extend_from_slice(&chunk);
    }
    offered(&body, current, &target)
}

/// How long after a check that got an answer the next one is.
pub const CHECK_EVERY: TimeDelta = TimeDelta::hours(24);

/// How long after a failed check the next one is: the network or the feed
/// is often back within the hour, and a day would be long to wait.
pub const RETRY_AFTER: TimeDelta = TimeDelta::hours(1);

/// The longest single sleep between checks. The sleep is monotonic and
/// stops while the machine is suspended; waking at least this often to
/// read the wall clock again, a laptop that slept through the due time
/// checks within this of waking (one wake-up an hour is nothing to the
/// idle budget, which counts them per second).
pub const MAX_NAP: Duration = Duration::from_secs(60 * 60);

/// When to ask the feed, by the wall clock: at once when it has not been
/// asked, a day after an answer, an hour after a failure.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Schedule {
    /// The last check: when, and whether the feed answered.
    last: Option<(DateTime<Utc>, bool)>,
}

impl Schedule {
    /// A schedule whose last check was at `at` (`None`: never), which
    /// `failed` or not.
    pub fn after(at: Option<DateTime<Utc>>, failed: bool) -> Self {
        Self {
            last: at.map(|at| (at, !failed)),
        }
    }

    /// A check at `at` got an answer (`answered`) or failed.
    pub fn checked(&mut self, at: DateTime<Utc>, answered: bool) {
        self.last = Some((at, answered));
    }

    /// When the next check is due (`None`: now).
    pub fn due(&self) -> Option<DateTime<Utc>> {
        self.last
            .map(|(at, answered)| at + if answered { CHECK_EVERY } else { RETRY_AFTER })
    }

    /// How long to sleep at `now` before looking again: zero when a check
    /// is due, else until it is, at most [`MAX_NAP`].
    pub fn nap(&self, now: DateTime<Utc>) -> Duration {
        match self.due() {
            None => Duration::ZERO,
            Some(due) => (due - now).to_std().unwrap_or(Duration::ZERO).min(MAX_NAP),
        }
    }
}

/// What a build knows about its own updates: its version and its
/// built-in feed and key.
#[derive(Debug, Clone)]
pub struct Build {
    /// This build's version (the app's, which is the workspace's).
    pub version: &'static str,
    /// The feed and key built in.
    pub built_in: BuiltIn,
}

/// How long after the tray is up the first check waits for the
/// connection (the network at login is often a few seconds behind).
const CONNECTED_WAIT: Duration = Duration::from_secs(120);

/// After connecting, a moment for the catch-up to go first.
const AFTER_CONNECTING: Duration = Duration::from_secs(2);

/// Resolves once the core is connected and its catch-up had a moment, or
/// after [`CONNECTED_WAIT`]: the small tray's first check waits for it.
pub async fn once_connected(
    mut connection: tokio::sync::watch::Receiver<belfry_core::event::ConnState>,
) {
    use belfry_core::event::ConnState;
    let connected = connection.wait_for(|c| matches!(c, ConnState::Connected));
    if tokio::time::timeout(CONNECTED_WAIT, connected)
        .await
        .is_ok()
    {
        tokio::time::sleep(AFTER_CONNECTING).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    fn feed(version: &str, platforms: &[&str]) -> Vec<u8> {
        let platforms: serde_json::Map<String, serde_json::Value> = platforms
            .iter()
            .map(|p| {
                (
                    (*p).to_owned(),
                    serde_json::json!({"url": "https://u.example.com/b", "signature": "s"}),
                )
            })
            .collect();
        serde_json::json!({"version": version, "notes": "n", "platforms": platforms})
            .to_string()
            .into_bytes()
    }

    #[test]
    fn only_a_newer_version_for_this_platform_is_offered() {
        let now = v("1.2.0");
        let at =
            |version, platforms: &[&str]| offered(&feed(version, platforms), &now, "linux-x86_64");
        assert_eq!(at("1.3.0", &["linux-x86_64"]).unwrap(), Some(v("1.3.0")));
        assert_eq!(
            at("v1.10.0", &["linux-x86_64"]).unwrap(),
            Some(v("1.10.0")),
            "semver, not text: 10 > 3"
        );
        assert_eq!(
            at("1.2.0", &["linux-x86_64"]).unwrap(),
            None,
            "the same version"
        );
        assert_eq!(
            at("1.1.9", &["linux-x86_64"]).unwrap(),
            None,
            "an older one"
        );
        assert_eq!(
            at("1.2.0-beta.1", &["linux-x86_64"]).unwrap(),
            None,
            "a pre-release of this one"
        );
        assert_eq!(
            at("1.3.0-beta.1", &["linux-x86_64"]).unwrap(),
            Some(v("1.3.0-beta.1"))
        );
        assert_eq!(
            at("1.3.0", &["linux-x86_64-appimage"]).unwrap(),
            Some(v("1.3.0")),
            "a build per installer counts"
        );
        assert!(matches!(
            at("1.3.0", &["windows-x86_64", "linux-x86_64ish"]),
            Err(CheckError::NoBuild(_))
        ));
        assert!(matches!(
            at("one", &["linux-x86_64"]),
            Err(CheckError::Decode(_))
        ));
        assert!(matches!(
            offered(b"<html>", &now, "linux-x86_64"),
            Err(CheckError::Decode(_))
        ));
        let dynamic = br#"{"version":"2.0.0","url":"https://u.example.com/b","signature":"s"}"#;
        assert_eq!(
            offered(dynamic, &now, "linux-x86_64").unwrap(),
            Some(v("2.0.0"))
        );
    }

    #[test]
    fn a_day_after_an_answer_an_hour_after_a_failure() {
        let t0 = DateTime::parse_from_rfc3339("2026-03-02T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut s = Schedule::default();
        assert_eq!(s.nap(t0), Duration::ZERO, "never checked: now");
        s.checked(t0, true);
        assert_eq!(s.due(), Some(t0 + TimeDelta::hours(24)));
        assert_eq!(s.nap(t0), MAX_NAP, "a long wait is slept in naps");
        assert_eq!(
            s.nap(t0 + TimeDelta::hours(23) + TimeDelta::minutes(30)),
            Duration::from_secs(30 * 60)
        );
        assert_eq!(s.nap(t0 + TimeDelta::hours(24)), Duration::ZERO);
        // Suspended past the due time: due at once on waking.
        assert_eq!(s.nap(t0 + TimeDelta::hours(50)), Duration::ZERO);
        s.checked(t0, false);
        assert_eq!(s.due(), Some(t0 + TimeDelta::hours(1)));
        assert_eq!(
            s.nap(t0 + TimeDelta::minutes(45)),
            Duration::from_secs(15 * 60)
        );
        // The full app's form: its last check's time and whether it failed.
        assert_eq!(
            Schedule::after(Some(t0), false).due(),
            Some(t0 + CHECK_EVERY)
        );
        assert_eq!(
            Schedule::after(Some(t0), true).due(),
            Some(t0 + RETRY_AFTER)
        );
        assert_eq!(Schedule::after(None, false).nap(t0), Duration::ZERO);
    }

    #[test]
    fn the_channel_goes_into_the_feed_and_only_https_is_a_feed() {
        let feed = "https://help.example.com/updates/{{channel}}/latest.json";
        assert_eq!(
            feed_for(feed, UpdateChannel::Beta).map(|u| u.to_string()),
            Ok("https://help.example.com/updates/beta/latest.json".to_owned())
        );
        assert_eq!(
            feed_for("https://u.example.com/latest.json", UpdateChannel::Beta)
                .map(|u| u.to_string()),
            Ok("https://u.example.com/latest.json".to_owned()),
            "a feed with one channel is used as it is"
        );
        for bad in [
            "http://u.example.com/latest.json",
            "not a url",
            "file:///tmp/latest.json",
        ] {
            assert!(
                matches!(
                    feed_for(bad, UpdateChannel::Stable),
                    Err(Off::BadFeed { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_organization_then_the_build_decide_the_source() {
        let key = "RWQ key";
        let built = BuiltIn {
            feed: Some("https://u.example.com/{{channel}}.json".into()),
            pubkey: Some(key.into()),
        };
        let none = Managed::default();
        assert_eq!(
            source(&none, &BuiltIn::default(), UpdateChannel::Stable),
            Err(Off::NoKey)
        );
        assert_eq!(
            source(&none, &built, UpdateChannel::Beta).map(|s| s.feed.to_string()),
            Ok("https://u.example.com/beta.json".to_owned())
        );
        let mut off = Managed::default();
        off.enforced.updates = Some(false);
        assert_eq!(
            source(&off, &built, UpdateChannel::Stable),
            Err(Off::Organization)
        );
        let mut own = Managed::default();
        own.enforced.update_feed = Some("https://corp.example.com/latest.json".into());
        own.enforced.update_pubkey = Some("RWQ corp".into());
        let s = source(&own, &BuiltIn::default(), UpdateChannel::Beta).unwrap();
        assert_eq!(
            (s.feed.as_str(), s.pubkey.as_str()),
            ("https://corp.example.com/latest.json", "RWQ corp")
        );
        assert!(channel_locked(&own) && single_channel(&own, &built));
        assert!(!channel_locked(&none) && !single_channel(&none, &built));
    }

    #[test]
    fn the_build_config_is_the_file_with_the_release_config_over_it() {
        let conf = r#"{"identifier":"x","plugins":{"updater":{"pubkey":"","endpoints":[],"requireSignedVersion":true}}}"#;
        assert_eq!(
            BuiltIn::from_tauri_conf(conf, None),
            BuiltIn::default(),
            "this repository's: none"
        );
        let release = r#"{"bundle":{"createUpdaterArtifacts":true},"plugins":{"updater":{"pubkey":"RWQ rel","endpoints":["https://r.example.com/latest.json"]}}}"#;
        assert_eq!(
            BuiltIn::from_tauri_conf(conf, Some(release)),
            BuiltIn {
                feed: Some("https://r.example.com/latest.json".into()),
                pubkey: Some("RWQ rel".into()),
            }
        );
        let removed = r#"{"plugins":{"updater":null}}"#;
        let keyed = r#"{"plugins":{"updater":{"pubkey":"RWQ k","endpoints":["https://a"]}}}"#;
        assert_eq!(
            BuiltIn::from_tauri_conf(keyed, Some(removed)),
            BuiltIn::default()
        );
        assert_eq!(
            BuiltIn::from_tauri_conf("not json", None),
            BuiltIn::default()
        );
        // The file this repository builds with.
        let ours = include_str!("../../../../src-tauri/tauri.conf.json");
        assert_eq!(BuiltIn::from_tauri_conf(ours, None), BuiltIn::default());
    }
}
