//! The URLs the service sends to: webhook endpoints and OIDC back-channel logout URIs. Absolute
//! `https` to a public host, no credentials in the URL, no fragment, ASCII only (international
//! domain names in punycode).
//!
//! The host is read the way the platform's URL parser (the WHATWG URL Standard) reads it, so that
//! no spelling reaches an address the check did not see: a host that ends in a number is an IPv4
//! address, whose parts may be decimal, `0x` hex or `0`-prefixed octal and may be fewer than four
//! (`2130706433`, `0x7f000001`, `0177.0.0.1` and `127.1` are all 127.0.0.1). Refused: loopback,
//! unspecified, private, shared (CGNAT), link-local (with the cloud metadata address),
//! unique-local, multicast, broadcast, reserved, benchmarking and documentation addresses, the
//! IPv6 forms that embed one of those (IPv4-mapped, -compatible, NAT64, 6to4), `localhost` and
//! `*.localhost`, `*.internal` (`metadata.google.internal`), `*.local` and other local-only
//! names, and single-label hosts.
//!
//! [`OutboundPolicy::allow_loopback`] (the edge sets it from `ALLOW_LOOPBACK_TARGETS = "on"`, for
//! local development and tests) lets loopback receivers through, over plain `http` too; every
//! other non-public host stays refused.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::scim::ScimError;

/// Longest URL accepted.
pub const MAX_URL_LEN: usize = 2048;

/// Which receivers the deployment may send to, beyond public https hosts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutboundPolicy {
    /// Loopback receivers (127.0.0.0/8, `::1`, `localhost`), over http or https: local
    /// development and tests only.
    pub allow_loopback: bool,
}

impl OutboundPolicy {
    /// Public https hosts only: what production runs with.
    pub const STRICT: OutboundPolicy = OutboundPolicy {
        allow_loopback: false,
    };
    /// Loopback receivers allowed too (`make dev`, the tests).
    pub const DEVELOPMENT: OutboundPolicy = OutboundPolicy {
        allow_loopback: true,
    };

    /// The policy the setting `ALLOW_LOOPBACK_TARGETS` asks for: `on` allows loopback receivers;
    /// anything else, or no setting, is [`STRICT`](Self::STRICT).
    pub fn from_setting(value: Option<&str>) -> OutboundPolicy {
        OutboundPolicy {
            allow_loopback: value.is_some_and(|v| v.trim().eq_ignore_ascii_case("on")),
        }
    }
}

/// Checks `url` (the value of the body member `field`) under `policy`; the error names the field
/// and the rule.
pub fn validate(field: &str, url: &str, policy: OutboundPolicy) -> Result<(), ScimError> {
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
    let Some(parsed) = parse_host(host) else {
        return fail(&format!("has an invalid host '{host}'."));
    };
    // An IPv4 address as the platform reads it, when the URL spells it otherwise. (Octets by
    // hand: the address types' Display costs wasm size.)
    let shown = match parsed {
        Host::V4(a) => {
            let [a, b, c, d] = a.octets();
            let canonical = format!("{a}.{b}.{c}.{d}");
            if canonical == host {
                format!("'{host}'")
            } else {
                format!("'{host}' ({canonical})")
            }
        }
        _ => format!("'{host}'"),
    };
    match classify(&parsed) {
        Reach::Public => {}
        Reach::Loopback if policy.allow_loopback => return Ok(()),
        Reach::Loopback => {
            return fail(&format!(
                "has host {shown}, a loopback address: only public hosts are allowed \
                 (loopback receivers only with ALLOW_LOOPBACK_TARGETS=on, for local development)."
            ))
        }
        Reach::Refused(why) => {
            return fail(&format!(
                "has host {shown}, {why}: only public hosts are allowed."
            ))
        }
    }
    if !https {
        return fail(if policy.allow_loopback {
            "must use https; plain http is allowed only to a loopback host."
        } else {
            "must use https."
        });
    }
    Ok(())
}

/// A URL's host as the platform reads it.
#[derive(Debug, PartialEq, Eq)]
enum Host {
    /// A DNS name: lower case, without a trailing dot.
    Name(String),
    V4(Ipv4Addr),
    V6(Ipv6Addr),
}

/// Where a host leads.
#[derive(Debug, PartialEq, Eq)]
enum Reach {
    Public,
    Loopback,
    /// Not public; the text says what it is ("a private address").
    Refused(&'static str),
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

/// Reads a host the way the WHATWG URL parser does: a bracketed IPv6 literal; else, lower-cased
/// and without one trailing dot, an IPv4 address when it ends in a number (then it must parse as
/// one), a DNS name otherwise. `None` when it is none of them.
fn parse_host(raw: &str) -> Option<Host> {
    if let Some(inside) = raw.strip_prefix('[') {
        return inside.strip_suffix(']')?.parse().ok().map(Host::V6);
    }
    let lower = raw.to_ascii_lowercase();
    let name = lower.strip_suffix('.').unwrap_or(&lower);
    if ends_in_number(name) {
        return parse_ipv4(name).map(Host::V4);
    }
    is_dns_name(name).then(|| Host::Name(name.to_owned()))
}

/// WHATWG "ends in a number": the last dot-separated part (after a trailing dot is dropped) is
/// all digits or parses as an IPv4 number (`0x…` included).
fn ends_in_number(host: &str) -> bool {
    let last = host.rsplit('.').next().unwrap_or(host);
    !last.is_empty() && (last.bytes().all(|b| b.is_ascii_digit()) || ipv4_number(last).is_some())
}

/// WHATWG IPv4 number: `0x` hex (digits may be absent: 0), `0`-prefixed octal, else decimal.
/// Saturates at `u64::MAX` (out of range either way).
fn ipv4_number(part: &str) -> Option<u64> {
    if part.is_empty() {
        return None;
    }
    let (digits, radix) = if let Some(hex) = part.strip_prefix("0x") {
        (hex, 16)
    } else if part.len() > 1 && part.starts_with('0') {
        (&part[1..], 8)
    } else {
        (part, 10)
    };
    digits.chars().try_fold(0u64, |n, c| {
        c.to_digit(radix).map(|d| {
            n.saturating_mul(u64::from(radix))
                .saturating_add(u64::from(d))
        })
    })
}

/// WHATWG IPv4 parser: one to four parts; every part but the last at most 255, the last filling
/// the remaining bytes (`127.1` is 127.0.0.1, `2130706433` too).
fn parse_ipv4(host: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = host.split('.').collect();
    if parts.len() > 4 {
        return None;
    }
    let numbers = parts
        .iter()
        .map(|p| ipv4_number(p))
        .collect::<Option<Vec<u64>>>()?;
    let (last, init) = numbers.split_last()?;
    if init.iter().any(|&n| n > 255) || *last >= 1u64 << (8 * (5 - numbers.len())) {
        return None;
    }
    let high = init
        .iter()
        .enumerate()
        .fold(0u64, |sum, (i, &n)| sum | (n << (8 * (3 - i))));
    u32::try_from(high | last).ok().map(Ipv4Addr::from)
}

/// A DNS name: dot-separated labels of letters, digits and hyphens.
fn is_dns_name(host: &str) -> bool {
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

fn classify(host: &Host) -> Reach {
    match host {
        Host::Name(name) => classify_name(name),
        Host::V4(a) => classify_v4(*a),
        Host::V6(a) => classify_v6(*a),
    }
}

/// Names that only resolve inside a network (or to this machine), by their last labels.
const LOCAL_SUFFIXES: [(&str, &str); 5] = [
    (
        "internal",
        "an internal name (such as the cloud metadata service)",
    ),
    ("local", "a local-network (mDNS) name"),
    ("localdomain", "a local-network name"),
    ("home.arpa", "a home-network name"),
    ("intranet", "a local-network name"),
];

fn classify_name(name: &str) -> Reach {
    if name == "localhost" || name.ends_with(".localhost") {
        return Reach::Loopback;
    }
    if !name.contains('.') {
        return Reach::Refused("a single-label name (not a public domain)");
    }
    for (suffix, what) in LOCAL_SUFFIXES {
        if name.strip_suffix(suffix).is_some_and(|s| s.ends_with('.')) {
            return Reach::Refused(what);
        }
    }
    Reach::Public
}

/// `Some(why)` refuses; `None` is loopback.
const V4_RANGES: [([u8; 4], u32, Option<&str>); 15] = [
    ([0, 0, 0, 0], 8, Some("an unspecified address")),
    ([10, 0, 0, 0], 8, Some("a private address")),
    ([100, 64, 0, 0], 10, Some("a shared (CGNAT) address")),
    ([127, 0, 0, 0], 8, None),
    (
        [169, 254, 0, 0],
        16,
        Some("a link-local address (such as the cloud metadata service)"),
    ),
    ([172, 16, 0, 0], 12, Some("a private address")),
    ([192, 0, 0, 0], 24, Some("a reserved address")),
    ([192, 0, 2, 0], 24, Some("a documentation address")),
    ([192, 88, 99, 0], 24, Some("a reserved address")),
    ([192, 168, 0, 0], 16, Some("a private address")),
    ([198, 18, 0, 0], 15, Some("a benchmarking address")),
    ([198, 51, 100, 0], 24, Some("a documentation address")),
    ([203, 0, 113, 0], 24, Some("a documentation address")),
    ([224, 0, 0, 0], 4, Some("a multicast address")),
    ([240, 0, 0, 0], 4, Some("a reserved or broadcast address")),
];

fn classify_v4(a: Ipv4Addr) -> Reach {
    let bits = a.to_bits();
    for (base, len, why) in V4_RANGES {
        if bits >> (32 - len) == Ipv4Addr::from(base).to_bits() >> (32 - len) {
            return why.map_or(Reach::Loopback, Reach::Refused);
        }
    }
    Reach::Public
}

/// Refused IPv6 ranges inside or beside global unicast (2000::/3; anything else outside it is
/// refused as reserved).
const V6_RANGES: [(u128, u32, &str); 9] = [
    (0x0064_ff9b_0001 << 80, 48, "a local-use NAT64 address"),
    (0x0100 << 112, 64, "a discard-only address"),
    (
        0x2001 << 112,
        32,
        "a Teredo address (it embeds an IPv4 address)",
    ),
    (0x2001_0db8 << 96, 32, "a documentation address"),
    (0x3fff << 112, 20, "a documentation address"),
    (0xfc00 << 112, 7, "a unique-local address"),
    (0xfe80 << 112, 10, "a link-local address"),
    (0xfec0 << 112, 10, "a site-local address"),
    (0xff00 << 112, 8, "a multicast address"),
];

fn classify_v6(a: Ipv6Addr) -> Reach {
    let bits = a.to_bits();
    let low_v4 = Ipv4Addr::from(bits as u32);
    match bits >> 32 {
        // ::, ::1, IPv4-compatible ::a.b.c.d, IPv4-mapped ::ffff:a.b.c.d, IPv4-translated
        // ::ffff:0:a.b.c.d: this host's own IPv4 stack.
        0 if bits == 0 => return Reach::Refused("an unspecified address"),
        0 if bits == 1 => return Reach::Loopback,
        0 | 0xffff | 0xffff_0000 => return classify_v4(low_v4),
        // NAT64 64:ff9b::a.b.c.d
        0x0064_ff9b_0000_0000_0000_0000 => return embedded(classify_v4(low_v4)),
        _ => {}
    }
    if bits >> 112 == 0x2002 {
        return embedded(classify_v4(Ipv4Addr::from((bits >> 80) as u32)));
    }
    for (base, len, why) in V6_RANGES {
        if bits >> (128 - len) == base >> (128 - len) {
            return Reach::Refused(why);
        }
    }
    if bits >> 125 == 0b001 {
        Reach::Public
    } else {
        Reach::Refused("a reserved address")
    }
}

/// A NAT64 or 6to4 address leads where its IPv4 address does, but never to this host.
fn embedded(v4: Reach) -> Reach {
    match v4 {
        Reach::Public => Reach::Public,
        _ => Reach::Refused("an IPv6 form (NAT64 or 6to4) of a non-public IPv4 address"),
    }
}

#[cfg(test)]
mod tests {
    use super::{parse_host, validate, Host, OutboundPolicy};
    use std::net::Ipv4Addr;

    const STRICT: OutboundPolicy = OutboundPolicy::STRICT;
    const DEV: OutboundPolicy = OutboundPolicy::DEVELOPMENT;

    fn refusal(url: &str, policy: OutboundPolicy) -> String {
        validate("url", url, policy)
            .err()
            .map(|e| e.detail)
            .unwrap_or_default()
    }

    #[test]
    fn hardening_2_the_setting_is_on_or_strict() {
        assert_eq!(OutboundPolicy::from_setting(Some("on")), DEV);
        assert_eq!(OutboundPolicy::from_setting(Some("ON")), DEV);
        for off in [None, Some(""), Some("off"), Some("true"), Some("1")] {
            assert_eq!(OutboundPolicy::from_setting(off), STRICT, "{off:?}");
        }
        assert_eq!(OutboundPolicy::default(), STRICT);
    }

    #[test]
    fn hardening_2_public_https_hosts_are_accepted() {
        for ok in [
            "https://hooks.example.com",
            "https://app.example.com/hooks/scim",
            "https://app.example.com:8443/x?y=1",
            "HTTPS://APP.EXAMPLE.COM",
            "https://app.example.com./hook",
            "https://93.184.216.34/",
            "https://1.1.1.1/hook",
            "https://[2606:4700::1111]/hook",
            "https://[::ffff:93.184.216.34]/",
            "https://[64:ff9b::5db8:d822]/",
            "https://[2002:5db8:d822::1]/",
            "https://172.32.0.1/",
            "https://100.128.0.1/",
            "https://192.169.0.1/",
            "https://xn--bcher-kva.example/",
            "https://metadata.google.internal.example.com/",
            "https://localhost.example.com/",
        ] {
            for policy in [STRICT, DEV] {
                assert!(validate("url", ok, policy).is_ok(), "{ok} {policy:?}");
            }
        }
    }

    /// Loopback in every spelling: allowed only with the development switch.
    #[test]
    fn hardening_2_loopback_spellings_only_with_the_switch() {
        for url in [
            "http://localhost:3000/hook",
            "http://LOCALHOST./hook",
            "http://api.localhost/hook",
            "http://127.0.0.1/hook",
            "http://127.1/",
            "http://127.0.1/",
            "http://127.255.255.254/",
            "http://2130706433/",
            "http://0x7f000001/",
            "http://0X7F000001/",
            "http://0177.0.0.1/",
            "http://0x7f.0.0.1/",
            "http://0x7f.1/",
            "http://017700000001/",
            "http://127.0.0.1./",
            "http://[::1]:8080/hook",
            "http://[0:0:0:0:0:0:0:1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:7f00:1]/",
            "https://127.0.0.1/hook",
            "https://localhost/hook",
        ] {
            assert!(validate("url", url, DEV).is_ok(), "{url}");
            let e = refusal(url, STRICT);
            assert!(e.starts_with("url has host '"), "{url}: {e}");
            assert!(e.contains("a loopback address"), "{url}: {e}");
            assert!(e.contains("ALLOW_LOOPBACK_TARGETS"), "{url}: {e}");
        }
        let e = refusal("http://2130706433/", STRICT);
        assert!(e.contains("'2130706433' (127.0.0.1)"), "{e}");
    }

    /// Every other non-public host, in every spelling: refused with and without the switch,
    /// over https as over http.
    #[test]
    fn hardening_2_non_public_hosts_are_refused() {
        for (host, says) in [
            ("0.0.0.0", "unspecified"),
            ("0", "unspecified"),
            ("0x0", "unspecified"),
            ("0.1.2.3", "unspecified"),
            ("[::]", "unspecified"),
            ("10.0.0.1", "private"),
            ("10.255.255.255", "private"),
            ("167772161", "private"),
            ("0xa000001", "private"),
            ("012.0.0.1", "private"),
            ("10.1", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("0xac.0x10.0.1", "private"),
            ("192.168.0.1", "private"),
            ("192.168.1", "private"),
            ("3232235777", "private"),
            ("0300.0250.0.1", "private"),
            ("100.64.0.1", "CGNAT"),
            ("100.127.255.255", "CGNAT"),
            ("169.254.169.254", "link-local"),
            ("169.254.0.1", "link-local"),
            ("2852039166", "link-local"),
            ("0xa9fea9fe", "link-local"),
            ("0251.0376.0251.0376", "link-local"),
            ("169.254.43518", "link-local"),
            ("[::ffff:169.254.169.254]", "link-local"),
            ("[::ffff:a9fe:a9fe]", "link-local"),
            ("[0:0:0:0:0:ffff:a9fe:a9fe]", "link-local"),
            ("[::169.254.169.254]", "link-local"),
            ("[::ffff:10.0.0.1]", "private"),
            ("[::ffff:a00:1]", "private"),
            ("[::ffff:0:a00:1]", "private"),
            ("[64:ff9b::a00:1]", "NAT64 or 6to4"),
            ("[64:ff9b::7f00:1]", "NAT64 or 6to4"),
            ("[64:ff9b::169.254.169.254]", "NAT64 or 6to4"),
            ("[64:ff9b:1::1]", "NAT64"),
            ("[2002:0a00:0001::]", "NAT64 or 6to4"),
            ("[2002:7f00:1::1]", "NAT64 or 6to4"),
            ("[2002:a9fe:a9fe::]", "NAT64 or 6to4"),
            ("[2001:0:4136:e378:8000:63bf:3fff:fdd2]", "Teredo"),
            ("[fc00::1]", "unique-local"),
            ("[fd12:3456:789a::1]", "unique-local"),
            ("[fe80::1]", "link-local"),
            ("[FEBF::1]", "link-local"),
            ("[fec0::1]", "site-local"),
            ("[ff02::1]", "multicast"),
            ("[100::1]", "discard-only"),
            ("[2001:db8::1]", "documentation"),
            ("[3fff::1]", "documentation"),
            ("[4000::1]", "reserved"),
            ("224.0.0.1", "multicast"),
            ("239.255.255.250", "multicast"),
            ("240.0.0.1", "reserved or broadcast"),
            ("255.255.255.255", "reserved or broadcast"),
            ("4294967295", "reserved or broadcast"),
            ("192.0.0.8", "reserved"),
            ("192.0.2.1", "documentation"),
            ("198.51.100.7", "documentation"),
            ("203.0.113.9", "documentation"),
            ("198.18.0.1", "benchmarking"),
            ("192.88.99.1", "reserved"),
            ("metadata.google.internal", "internal"),
            ("METADATA.GOOGLE.INTERNAL.", "internal"),
            ("instance-data.ec2.internal", "internal"),
            ("printer.local", "mDNS"),
            ("nas.localdomain", "local-network"),
            ("router.home.arpa", "home-network"),
            ("metadata", "single-label"),
            ("intranet", "single-label"),
            ("hooks", "single-label"),
            ("hooks.", "single-label"),
            ("com", "single-label"),
        ] {
            for scheme in ["https", "http"] {
                for policy in [STRICT, DEV] {
                    let url = format!("{scheme}://{host}:8443/hook");
                    let e = refusal(&url, policy);
                    assert!(e.starts_with("url has host '"), "{url} {policy:?}: {e}");
                    assert!(e.contains(says), "{url} {policy:?}: {e}");
                    assert!(e.contains("only public hosts"), "{url} {policy:?}: {e}");
                }
            }
        }
    }

    /// Hosts the platform's parser would refuse, or read as an address out of range, are not
    /// names either.
    #[test]
    fn hardening_2_malformed_numeric_hosts_are_invalid() {
        for host in [
            "256.0.0.1",
            "1.2.3.4.5",
            "4294967296",
            "0x100000000",
            "0xffffffffffffffffffffffff",
            "1.2.3.256.",
            "1.2.65536",
            "08.0.0.1",
            "0x7g.0.0.1.2",
            "example.1",
            "example.0x1",
            "1.2.3.4..",
            "%31%32%37.0.0.1",
            "[fe80::1%25eth0]",
        ] {
            let url = format!("https://{host}/");
            let e = refusal(&url, DEV);
            assert!(e.contains("invalid host"), "{url}: {e}");
        }
    }

    #[test]
    fn hardening_2_hosts_parse_as_the_url_standard_does() {
        for (host, v4) in [
            ("2130706433", [127, 0, 0, 1]),
            ("0x7f000001", [127, 0, 0, 1]),
            ("0177.0.0.1", [127, 0, 0, 1]),
            ("127.1", [127, 0, 0, 1]),
            ("0x7f.1", [127, 0, 0, 1]),
            ("1.2.3.4.", [1, 2, 3, 4]),
            ("0x.0.0.0x", [0, 0, 0, 0]),
            ("1.0x2.03", [1, 2, 0, 3]),
            ("1.2.770", [1, 2, 3, 2]),
            ("0.0.0.0", [0, 0, 0, 0]),
            ("255.255.255.255", [255, 255, 255, 255]),
        ] {
            assert_eq!(
                parse_host(host),
                Some(Host::V4(Ipv4Addr::from(v4))),
                "{host}"
            );
        }
        assert_eq!(
            parse_host("Hooks.Example.COM."),
            Some(Host::Name("hooks.example.com".into()))
        );
        assert_eq!(
            parse_host("0x7g.example"),
            Some(Host::Name("0x7g.example".into()))
        );
    }

    #[test]
    fn rejects_what_is_not_a_safe_absolute_url() {
        for (bad, says) in [
            ("", "empty"),
            ("app.example.com/hook", "absolute"),
            ("ftp://app.example.com", "scheme 'ftp'"),
            ("http://app.example.com/hook", "must use https"),
            ("http://93.184.216.34/hook", "must use https"),
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
            for policy in [STRICT, DEV] {
                let e = refusal(bad, policy);
                assert!(e.starts_with("url "), "{bad}: {e}");
                assert!(e.contains(says), "{bad}: {e}");
            }
        }
        let long = format!("https://app.example.com/{}", "a".repeat(2048));
        assert!(validate("url", &long, DEV).is_err());
    }
}
