//! Plain request and response values: the edge adapter converts the platform's types into these,
//! so the service can be driven the same way from host tests.

use serde_json::Value;

use crate::scim::ScimError;
use crate::service::event::Origin;
use crate::service::page::PageRequest;

/// `application/scim+json` (RFC 7644 §3.1).
pub const SCIM_JSON: &str = "application/scim+json";

/// The largest request body accepted, advertised as `bulk.maxPayloadSize` (RFC 7644 §3.7.4).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The header carrying the Worker's public origin (`https://host`) to an object, which builds
/// URLs (`scim_base_url`, setup links) from it.
pub const ORIGIN_HEADER: &str = "x-scim-edge-origin";

/// The header the Worker sets on every request it forwards, and returns to the client.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

#[derive(Debug, Clone, Default)]
pub struct HttpRequest {
    pub method: String,
    /// The path below the SCIM base URL, e.g. `/Users/2819c223`.
    pub path: String,
    /// Decoded query parameters in order.
    pub query: Vec<(String, String)>,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpRequest {
    /// Who makes a change through this request: `actor` (`admin`, `app`, `setup_link`,
    /// `token:<id>`, `system`) and the request id the Worker gave it.
    pub fn origin<'a>(&'a self, actor: &'a str) -> Origin<'a> {
        Origin {
            actor,
            request_id: self.header(REQUEST_ID_HEADER),
        }
    }

    /// `?limit=&after=` of a cursor-paged list.
    pub fn page(&self) -> PageRequest<'_> {
        PageRequest {
            limit: self.query_param("limit"),
            after: self.query_param("after"),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first value of a query parameter; names compare case-insensitively.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON, after the media type and size checks.
    pub fn json_body(&self) -> Result<Value, ScimError> {
        if let Some(content_type) = self.header("content-type") {
            let media = content_type
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            if !(media == SCIM_JSON || media == "application/json" || media.is_empty()) {
                return Err(ScimError::unsupported_media_type(format!(
                    "Content-Type '{media}' is not supported; send application/scim+json."
                )));
            }
        }
        if self.body.len() > MAX_BODY_BYTES {
            return Err(ScimError::payload_too_large(MAX_BODY_BYTES));
        }
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Err(ScimError::invalid_syntax("The request body is empty."));
        }
        serde_json::from_slice(&self.body).map_err(|e| {
            ScimError::invalid_syntax(format!(
                "The request body is not valid JSON: {e} (line {}, column {}).",
                e.line(),
                e.column()
            ))
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The cause of an internal error, for the operator's log only.
    pub log: Option<String>,
}

impl HttpResponse {
    pub fn scim_json(status: u16, body: &Value) -> Self {
        HttpResponse {
            status,
            headers: vec![("content-type".into(), SCIM_JSON.into())],
            body: serde_json::to_vec(body).unwrap_or_default(),
            log: None,
        }
    }

    pub fn plain_json(status: u16, body: &Value) -> Self {
        HttpResponse {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: serde_json::to_vec(body).unwrap_or_default(),
            log: None,
        }
    }

    pub fn empty(status: u16) -> Self {
        HttpResponse {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            log: None,
        }
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

impl From<ScimError> for HttpResponse {
    fn from(e: ScimError) -> Self {
        let mut response = HttpResponse::scim_json(e.status, &e.to_json());
        response.log = e.cause.clone();
        for (name, value) in &e.headers {
            response = response.with_header(name, value.clone());
        }
        if e.status == 401 {
            response.with_header("www-authenticate", "Bearer realm=\"scim\"")
        } else {
            response
        }
    }
}

/// An absolute URL as the platform serialises it (WHATWG URL Standard), split into origin, path
/// and query without a URL parser: the runtime has parsed and normalised it already, and a
/// parser in the wasm would cost more than everything it is used for here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestUrl {
    origin: String,
    path: String,
    query: Option<String>,
}

impl RequestUrl {
    /// `scheme://host[:port]/path?query#fragment`; the fragment is dropped, an empty path is `/`.
    pub fn parse(url: &str) -> RequestUrl {
        let url = url.split('#').next().unwrap_or_default();
        let (before_query, query) = match url.split_once('?') {
            Some((b, q)) => (b, Some(q.to_owned())),
            None => (url, None),
        };
        let authority_start = before_query.find("://").map_or(0, |i| i + 3);
        let path_start = before_query[authority_start..]
            .find('/')
            .map_or(before_query.len(), |i| authority_start + i);
        let path = &before_query[path_start..];
        RequestUrl {
            origin: before_query[..path_start].to_owned(),
            path: if path.is_empty() {
                "/".into()
            } else {
                path.into()
            },
            query,
        }
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Percent-encoded, as serialised.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Without the `?`; `None` when the URL has no `?`.
    pub fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }

    /// The query's name/value pairs, decoded per `application/x-www-form-urlencoded`.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        self.query
            .as_deref()
            .map(form_urlencoded)
            .unwrap_or_default()
    }
}

/// The WHATWG `application/x-www-form-urlencoded` parser: `&`-separated, the first `=` splits
/// name from value, `+` is a space, `%XX` is a byte (a `%` not followed by two hex digits stays
/// as it is), bytes are read as UTF-8 with replacement characters.
pub fn form_urlencoded(input: &str) -> Vec<(String, String)> {
    input
        .split('&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (name, value) = part.split_once('=').unwrap_or((part, ""));
            (percent_decode_plus(name), percent_decode_plus(value))
        })
        .collect()
}

fn percent_decode_plus(s: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) => hex(h).zip(hex(l)).map(|(h, l)| h * 16 + l),
            _ => None,
        };
        match (escaped, bytes[i]) {
            (Some(byte), _) => {
                out.push(byte);
                i += 3;
            }
            (None, b'+') => {
                out.push(b' ');
                i += 1;
            }
            (None, b) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod url_tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn splits_what_the_platform_serialises() {
        for (url, origin, path, query) in [
            ("https://example.com/", "https://example.com", "/", None),
            ("https://example.com", "https://example.com", "/", None),
            (
                "http://127.0.0.1:8787/scim/v2/con_1/Users?filter=x",
                "http://127.0.0.1:8787",
                "/scim/v2/con_1/Users",
                Some("filter=x"),
            ),
            (
                "https://e.com/a%3F%23%2Fb?c#frag",
                "https://e.com",
                "/a%3F%23%2Fb",
                Some("c"),
            ),
            ("https://e.com?q", "https://e.com", "/", Some("q")),
            ("https://e.com/p?", "https://e.com", "/p", Some("")),
            ("https://e.com/p#x?y", "https://e.com", "/p", None),
            (
                "https://e.com/a?b?c=d",
                "https://e.com",
                "/a",
                Some("b?c=d"),
            ),
        ] {
            let u = RequestUrl::parse(url);
            assert_eq!(
                (u.origin(), u.path(), u.query()),
                (origin, path, query),
                "{url}"
            );
        }
    }

    /// The cases the url crate's `query_pairs` (WHATWG) is known to answer.
    #[test]
    fn decodes_queries_like_the_whatwg_form_parser() {
        let pairs = |q: &str| form_urlencoded(q);
        let owned = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        assert_eq!(
            pairs("filter=userName%20eq%20%22bjensen%22&count=10"),
            owned(&[("filter", "userName eq \"bjensen\""), ("count", "10")])
        );
        assert_eq!(pairs("a=b+c&d=%2B"), owned(&[("a", "b c"), ("d", "+")]));
        assert_eq!(
            pairs("&&a&b=&=c&"),
            owned(&[("a", ""), ("b", ""), ("", "c")])
        );
        assert_eq!(pairs("a=1=2"), owned(&[("a", "1=2")]));
        assert_eq!(pairs("a=%zz%4&b=%4"), owned(&[("a", "%zz%4"), ("b", "%4")]));
        assert_eq!(pairs("a=%"), owned(&[("a", "%")]));
        assert_eq!(pairs("n%C3%A9=%E2%9C%93"), owned(&[("né", "✓")]));
        assert_eq!(pairs("a=%FF"), owned(&[("a", "\u{FFFD}")]));
        assert_eq!(pairs("a=%41%4a%4A"), owned(&[("a", "AJJ")]));
        assert_eq!(pairs("é=ü"), owned(&[("é", "ü")]));
    }

    /// Differential: generated queries and URLs against the url crate (WHATWG), the parser the
    /// platform and `worker::Request::url` use.
    #[test]
    fn agrees_with_the_url_crate_on_generated_inputs() {
        let alphabet: Vec<char> = "ab=&+%2F4fzZ é✓?#/.-_~\"'".chars().collect();
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        for _ in 0..20_000 {
            let len = next(24);
            let q: String = (0..len).map(|_| alphabet[next(alphabet.len())]).collect();
            let ours = form_urlencoded(&q);
            let theirs: Vec<(String, String)> = url::form_urlencoded::parse(q.as_bytes())
                .map(|(a, b)| (a.into_owned(), b.into_owned()))
                .collect();
            assert_eq!(ours, theirs, "{q:?}");
            let raw = format!("https://h.example:8443/p{q}");
            let parsed = url::Url::parse(&raw).unwrap();
            let serialised = parsed.as_str();
            let split = RequestUrl::parse(serialised);
            assert_eq!(split.path(), parsed.path(), "{serialised}");
            assert_eq!(split.query(), parsed.query(), "{serialised}");
            assert_eq!(
                split.origin(),
                parsed.origin().ascii_serialization(),
                "{serialised}"
            );
            let pairs: Vec<(String, String)> = parsed
                .query_pairs()
                .map(|(a, b)| (a.into_owned(), b.into_owned()))
                .collect();
            assert_eq!(split.query_pairs(), pairs, "{serialised}");
        }
    }
}
