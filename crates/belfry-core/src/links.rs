//! Which links the app may open. A notification's link comes from the
//! server, and its text from whoever wrote the ticket, so the app opens a
//! link only when it points at the instance itself (same scheme, host and
//! port as the address the app signed in to) or at an origin the instance
//! announces in `/info`'s `link_origins` (the helpdesks that feed it,
//! docs/protocol.md "Link origins"). Anything else — another site,
//! `javascript:`, `file:`, `data:`, a custom scheme, a link carrying
//! credentials — is refused and logged, never handed to the browser.

use url::Url;

/// Why a link was not opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkRefused {
    /// Not a URL at all.
    #[error("not a link: {0}")]
    Malformed(String),
    /// A scheme the browser should never get from a notification.
    #[error("links with the `{0}:` scheme are never opened")]
    Scheme(String),
    /// Another site.
    #[error("the link goes to {0}, not to your instance")]
    Origin(String),
    /// `https://user:password@…` hides where a link goes.
    #[error("the link carries a user name or password")]
    Credentials,
    /// The item has no link.
    #[error("this notification has no link")]
    None,
}

/// Checks `link` against the instance's own origin and returns the URL to
/// open. Relative links (`/tickets/7`) are resolved against the instance.
pub fn check(instance: &Url, link: &str) -> Result<Url, LinkRefused> {
    check_with(instance, &[], link)
}

/// [`check`], also allowing the http(s) origins in `announced` (the
/// instance's `link_origins`, e.g. `https://acme.zendesk.com`).
pub fn check_with(instance: &Url, announced: &[String], link: &str) -> Result<Url, LinkRefused> {
    let link = link.trim();
    let url = match Url::parse(link) {
        Ok(u) => u,
        Err(url::ParseError::RelativeUrlWithoutBase) if link.starts_with('/') => instance
            .join(link)
            .map_err(|e| LinkRefused::Malformed(e.to_string()))?,
        Err(e) => return Err(LinkRefused::Malformed(e.to_string())),
    };
    if !matches!(url.scheme(), "https" | "http") {
        return Err(LinkRefused::Scheme(url.scheme().to_owned()));
    }
    // The instance address itself passed the https-or-loopback rule at
    // sign-in, so the same origin inherits it.
    if url.origin() != instance.origin() && !announced_origin(announced, &url) {
        return Err(LinkRefused::Origin(url.origin().ascii_serialization()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(LinkRefused::Credentials);
    }
    Ok(url)
}

/// Is `url`'s origin one of `announced`? Each is parsed as a URL so that
/// `HTTPS://Acme.Zendesk.com:443` and `https://acme.zendesk.com` are one
/// origin; only http and https ones count.
fn announced_origin(announced: &[String], url: &Url) -> bool {
    announced.iter().any(|a| {
        Url::parse(a)
            .is_ok_and(|o| matches!(o.scheme(), "http" | "https") && o.origin() == url.origin())
    })
}

/// [`check`], logging a refusal (the link is shortened: it is untrusted text).
pub fn checked(instance: &Url, link: Option<&str>) -> Result<Url, LinkRefused> {
    checked_with(instance, &[], link)
}

/// [`check_with`], logging a refusal.
pub fn checked_with(
    instance: &Url,
    announced: &[String],
    link: Option<&str>,
) -> Result<Url, LinkRefused> {
    let result = link.map_or(Err(LinkRefused::None), |l| {
        check_with(instance, announced, l)
    });
    if let (Err(why), Some(l)) = (&result, link) {
        let shown: String = l.chars().take(120).collect();
        tracing::warn!(link = %shown, reason = %why, "link refused");
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance() -> Url {
        Url::parse("https://help.example.com").unwrap_or_else(|e| panic!("{e}"))
    }

    fn refused(link: &str) -> LinkRefused {
        match check(&instance(), link) {
            Ok(u) => panic!("{link} was allowed as {u}"),
            Err(e) => e,
        }
    }

    #[test]
    fn links_on_the_instance_open() {
        let ok = |l: &str| check(&instance(), l).map(|u| u.to_string());
        assert_eq!(
            ok("https://help.example.com/tickets/7"),
            Ok("https://help.example.com/tickets/7".into())
        );
        assert_eq!(
            ok("/tickets/7?tab=chat#m2"),
            Ok("https://help.example.com/tickets/7?tab=chat#m2".into())
        );
        assert_eq!(
            ok("HTTPS://HELP.example.com:443/x"),
            Ok("https://help.example.com/x".into())
        );
        let demo = Url::parse("http://127.0.0.1:8844").unwrap_or_else(|e| panic!("{e}"));
        assert!(check(&demo, "http://127.0.0.1:8844/tickets/1").is_ok());
        assert!(check(&demo, "http://127.0.0.1:9999/tickets/1").is_err());
    }

    #[test]
    fn announced_origins_open_and_nothing_else() {
        let announced = vec![
            "https://acme.zendesk.com".to_owned(),
            "HTTP://127.0.0.1:8000".to_owned(),
            "javascript:alert(1)".to_owned(),
            "not a url".to_owned(),
        ];
        let ok = |l: &str| check_with(&instance(), &announced, l).map(|u| u.to_string());
        assert_eq!(
            ok("https://acme.zendesk.com/agent/tickets/5158"),
            Ok("https://acme.zendesk.com/agent/tickets/5158".into())
        );
        assert!(ok("http://127.0.0.1:8000/helpdesk/tickets/7/").is_ok());
        assert!(
            ok("https://help.example.com/tickets/7").is_ok(),
            "its own still"
        );
        for bad in [
            "http://acme.zendesk.com/agent/tickets/5158",
            "https://acme.zendesk.com:8443/",
            "https://evil.zendesk.com/",
            "http://127.0.0.1:8001/",
            "https://me:pw@acme.zendesk.com/",
            "javascript:alert(1)",
        ] {
            assert!(ok(bad).is_err(), "{bad} was allowed");
        }
        assert!(
            check(&instance(), "https://acme.zendesk.com/agent/tickets/5158").is_err(),
            "not without the announcement"
        );
    }

    #[test]
    fn everything_else_is_refused() {
        assert!(matches!(
            refused("https://evil.example.net/tickets/7"),
            LinkRefused::Origin(_)
        ));
        assert!(matches!(
            refused("http://help.example.com/tickets/7"),
            LinkRefused::Origin(_)
        ));
        assert!(matches!(
            refused("https://help.example.com.evil.net/"),
            LinkRefused::Origin(_)
        ));
        assert!(matches!(
            refused("//evil.example.net/x"),
            LinkRefused::Origin(_)
        ));
        assert_eq!(
            refused("javascript:alert(document.cookie)"),
            LinkRefused::Scheme("javascript".into())
        );
        assert_eq!(
            refused("file:///etc/passwd"),
            LinkRefused::Scheme("file".into())
        );
        assert_eq!(
            refused("data:text/html,<script>alert(1)</script>"),
            LinkRefused::Scheme("data".into())
        );
        assert_eq!(
            refused("https://help.example.com@evil.example.net/"),
            LinkRefused::Origin("https://evil.example.net".into())
        );
        assert_eq!(
            refused("https://me:pw@help.example.com/"),
            LinkRefused::Credentials
        );
        assert!(matches!(refused("tickets/7"), LinkRefused::Malformed(_)));
        assert_eq!(
            checked(&instance(), None),
            Err(LinkRefused::None),
            "an item without a link opens nothing"
        );
    }
}
