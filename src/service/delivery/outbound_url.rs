//! The URLs the service sends to: webhook endpoints and OIDC back-channel logout URIs. Absolute
//! `https` (plain `http` only to a loopback host, for local development), no credentials in the
//! URL, no fragment, ASCII only (international domain names in punycode).

use std::net::Ipv6Addr;

use crate::scim::ScimError;

/// Longest URL accepted.
pub const MAX_URL_LEN: usize = 2048;

/// Checks `url` (the value of the body member `field`); the error names the field and the rule.
pub fn validate(field: &str, url: &str) -> Result<(), ScimError> {
    let fail = |why: &str| Err(ScimError::invalid_value(format!("{field} {why}")));
    if url.is_empty() {
        return fail("must not be empty.");
    }
    if url.len() > MAX_URL_LEN {
        return fail(&format!("must be at most {MAX_URL_LEN} characters."));
    }
    if !url.bytes().all(|b| b.is_ascii_graphic()) {
        return fail(
            "must be ASCII without spaces or control characters (percent-encode them; write \
             international domain names in punycode).",
        );
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return fail("must be an absolute http(s) URL, such as https://app.example.com/hook.");
    };
    let https = match scheme.to_ascii_lowercase().as_str() {
        "https" => true,
        "http" => false,
        _ => {
            return fail(&format!(
                "has scheme '{scheme}': only https (or http to a loopback host) is allowed."
            ))
        }
    };
    if url.contains('#') {
        return fail("must not have a fragment (#…).");
    }
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    if authority.contains('@') {
        return fail(
            "must not carry credentials (user:password@); authenticate with the signature instead.",
        );
    }
    let Some((host, port)) = split_host_port(authority) else {
        return fail("has an invalid host.");
    };
    if let Some(port) = port {
        if !port.bytes().all(|b| b.is_ascii_digit())
            || port.parse::<u32>().map_or(true, |p| p == 0 || p > 65535)
        {
            return fail(&format!("has an invalid port '{port}'."));
        }
    }
    let loopback = is_loopback(host);
    if !loopback && !is_host_name(host) {
        return fail(&format!("has an invalid host '{host}'."));
    }
    if !https && !loopback {
        return fail(
            "must use https; plain http is allowed only to localhost, 127.0.0.1 or [::1].",
        );
    }
    Ok(())
}

/// `host[:port]` or `[v6]:port`; `None` when the brackets do not close or the host is empty.
fn split_host_port(authority: &str) -> Option<(&str, Option<&str>)> {
    if let Some(bracketed) = authority.strip_prefix('[') {
        let (inside, after) = bracketed.split_once(']')?;
        let host = &authority[..inside.len() + 2];
        return match after {
            "" => Some((host, None)),
            _ => Some((host, Some(after.strip_prefix(':')?))),
        };
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    (!host.is_empty()).then_some((host, port))
}

/// The loopback hosts plain http may reach: `localhost`, `127.0.0.1`, `[::1]`.
fn is_loopback(host: &str) -> bool {
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return v6.parse::<Ipv6Addr>().is_ok_and(|a| a.is_loopback());
    }
    host.eq_ignore_ascii_case("localhost") || host == "127.0.0.1"
}

/// A DNS name or IPv4 address (dot-separated labels of letters, digits and hyphens), or an
/// IPv6 literal in brackets.
fn is_host_name(host: &str) -> bool {
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return v6.parse::<Ipv6Addr>().is_ok();
    }
    host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::validate;

    #[test]
    fn accepts_https_and_loopback_http() {
        for ok in [
            "https://app.example.com/hooks/scim",
            "https://app.example.com:8443/x?y=1",
            "HTTPS://APP.EXAMPLE.COM",
            "http://localhost:3000/hook",
            "http://127.0.0.1/hook",
            "http://[::1]:8080/hook",
            "https://[2001:db8::1]/hook",
            "https://10.0.0.1/hook",
        ] {
            assert!(validate("url", ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_what_is_not_a_safe_absolute_url() {
        for (bad, says) in [
            ("", "empty"),
            ("app.example.com/hook", "absolute"),
            ("ftp://app.example.com", "scheme 'ftp'"),
            ("http://app.example.com/hook", "must use https"),
            ("https://user:pw@app.example.com", "credentials"),
            ("https://app.example.com/a b", "ASCII"),
            ("https://exämple.com", "ASCII"),
            ("https://app.example.com/#x", "fragment"),
            ("https:///path", "invalid host"),
            ("https://app.example.com:0/", "invalid port"),
            ("https://app.example.com:99999/", "invalid port"),
            ("https://app.example.com:x/", "invalid port"),
            ("https://-bad-.example.com/", "invalid host"),
            ("https://[::1/", "invalid host"),
            ("https://[zz]/", "invalid host"),
            ("http://localhost.evil.com/", "must use https"),
        ] {
            let e = validate("url", bad)
                .err()
                .map(|e| e.detail)
                .unwrap_or_default();
            assert!(e.starts_with("url "), "{bad}: {e}");
            assert!(e.contains(says), "{bad}: {e}");
        }
        let long = format!("https://app.example.com/{}", "a".repeat(2048));
        assert!(validate("url", &long).is_err());
    }
}
