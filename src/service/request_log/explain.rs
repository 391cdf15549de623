//! Each logged request in words, in terms of the resource: what it changed (from the events it
//! recorded), what it read, or why it failed; then the dialect features it relied on.
//! "deactivated user bjensen@example.com (Okta pathless replace of active)", "removed 2 members
//! from group Sales", "no change". Pure.

use serde_json::Value;

use super::dialect::Feature;
use super::mask::Masker;

/// Most changes an explanation names one by one (a Bulk of 1,000 says how many more).
const MAX_PHRASES: usize = 3;

/// What the explanation is built from, besides the events.
#[derive(Debug, Clone, Default)]
pub struct Facts<'a> {
    pub method: &'a str,
    /// Below the SCIM base URL.
    pub path: &'a str,
    /// The `filter` query parameter (already masked when masking is on).
    pub filter: Option<&'a str>,
    pub status: u16,
    pub scim_type: Option<&'a str>,
    pub detail: Option<&'a str>,
    /// `totalResults` of a list response.
    pub total_results: Option<i64>,
    /// The `userName` or `displayName` of the resource a response carried.
    pub resource_name: Option<&'a str>,
    /// Operations of a Bulk request, and how many of them failed.
    pub bulk: Option<(usize, usize)>,
}

/// One event the request recorded: its type and data.
pub type RecordedEvent = (String, Value);

/// The explanation of one request.
pub fn explain(
    facts: &Facts,
    events: &[RecordedEvent],
    features: &[Feature],
    masker: Option<&Masker>,
) -> String {
    let mut words = what_happened(facts, events, masker);
    if !features.is_empty() {
        let names: Vec<&str> = features.iter().map(|f| f.description).collect();
        words.push_str(&format!(" ({})", names.join(", ")));
    }
    words
}

fn segments(path: &str) -> Vec<&str> {
    path.split('/').filter(|s| !s.is_empty()).collect()
}

/// `user` or `group` for `/Users…` or `/Groups…`.
fn noun(path: &str) -> Option<&'static str> {
    match segments(path).first() {
        Some(s) if s.eq_ignore_ascii_case("Users") => Some("user"),
        Some(s) if s.eq_ignore_ascii_case("Groups") => Some("group"),
        _ => None,
    }
}

fn what_happened(facts: &Facts, events: &[RecordedEvent], masker: Option<&Masker>) -> String {
    let method = facts.method.to_ascii_uppercase();
    let segs = segments(facts.path);
    let is_bulk = method == "POST" && segs.len() == 1 && segs[0].eq_ignore_ascii_case("Bulk");
    if facts.status >= 400 && !(is_bulk && facts.status < 500 && facts.bulk.is_some()) {
        return failure(facts, &method);
    }
    let changes = changes(events, masker);
    if is_bulk {
        let (ops, failed) = facts.bulk.unwrap_or_default();
        let mut words = format!("bulk of {ops} operation{}", plural(ops));
        if failed > 0 {
            words.push_str(&format!(", {failed} failed"));
        }
        words.push_str(": ");
        words.push_str(&summarise(&changes));
        return words;
    }
    let searching = segs.last().is_some_and(|s| *s == ".search");
    if method == "GET" || searching {
        return read(facts, &method, &segs);
    }
    summarise(&changes)
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn summarise(changes: &[String]) -> String {
    match changes.len() {
        0 => "no change".into(),
        n if n <= MAX_PHRASES => changes.join(", "),
        n => format!(
            "{} and {} more change{}",
            changes[..MAX_PHRASES].join(", "),
            n - MAX_PHRASES,
            plural(n - MAX_PHRASES)
        ),
    }
}

/// A read: a list, a search, one resource, or discovery.
fn read(facts: &Facts, method: &str, segs: &[&str]) -> String {
    let what = match segs.first() {
        Some(s) if s.eq_ignore_ascii_case("Users") => "users",
        Some(s) if s.eq_ignore_ascii_case("Groups") => "groups",
        Some(s) if *s == ".search" => "users and groups",
        Some(other) => return format!("read {other}"),
        None => return "read the base URL".into(),
    };
    let one = segs.len() == 2 && segs[1] != ".search";
    if one && method == "GET" {
        let noun = &what[..what.len() - 1];
        if facts.status == 304 {
            return format!("{noun} {} not modified", segs[1]);
        }
        return match facts.resource_name {
            Some(name) => format!("read {noun} {name}"),
            None => format!("read {noun} {}", segs[1]),
        };
    }
    let verb = if method == "GET" {
        "listed"
    } else {
        "searched"
    };
    let mut details = Vec::new();
    if let Some(filter) = facts.filter {
        details.push(format!("filter {filter}"));
    }
    if let Some(n) = facts.total_results {
        details.push(format!("{n} result{}", plural(n as usize)));
    }
    if details.is_empty() {
        format!("{verb} {what}")
    } else {
        format!("{verb} {what} ({})", details.join(", "))
    }
}

/// A failed request: what was attempted and why it failed.
fn failure(facts: &Facts, method: &str) -> String {
    let segs = segments(facts.path);
    let target = match (noun(facts.path), segs.get(1)) {
        (Some(noun), Some(id)) if *id != ".search" => format!("{noun} {id}"),
        (Some(noun), _) => format!("{noun}s"),
        _ => facts.path.to_owned(),
    };
    let attempt = match (method, segs.len(), segs.last()) {
        (_, _, Some(&".search")) => format!("search {target}"),
        ("GET", 1, _) => format!("list {target}"),
        ("GET", _, _) => format!("read {target}"),
        ("POST", 1, _) if noun(facts.path).is_some() => {
            format!("create {}", target.trim_end_matches('s'))
        }
        ("PUT", _, _) => format!("replace {target}"),
        ("PATCH", _, _) => format!("update {target}"),
        ("DELETE", _, _) => format!("delete {target}"),
        _ => format!("{method} {}", facts.path),
    };
    let why = match facts.status {
        401 => "not authenticated".to_owned(),
        403 => "forbidden".to_owned(),
        404 => "not found".to_owned(),
        429 => "rate limited".to_owned(),
        _ => facts.scim_type.unwrap_or("error").to_owned(),
    };
    let mut words = format!("{attempt} failed ({} {why})", facts.status);
    if let Some(detail) = facts.detail {
        words.push_str(": ");
        words.push_str(detail);
    }
    words
}

/// The changes the events say the request made, in order.
fn changes(events: &[RecordedEvent], masker: Option<&Masker>) -> Vec<String> {
    let person = |name: &str| match masker {
        Some(m) => m.hash(name),
        None => name.to_owned(),
    };
    // A deleted user's name is in the revocation that follows the deletion.
    let subject_of = |user_id: &str| {
        events.iter().find_map(|(kind, data)| {
            (kind == "user.sessions_revoked" && data["user_id"] == user_id)
                .then(|| data["subject"].as_str().map(&person))
                .flatten()
        })
    };
    let mut out = Vec::new();
    for (kind, data) in events {
        let id = data["id"].as_str().unwrap_or_default();
        let user = || {
            data["resource"]["userName"]
                .as_str()
                .map(&person)
                .or_else(|| subject_of(id))
                .unwrap_or_else(|| id.to_owned())
        };
        let group = || {
            data["resource"]["displayName"]
                .as_str()
                .or_else(|| data["display_name"].as_str())
                .unwrap_or(id)
                .to_owned()
        };
        let changed: Vec<&str> = data["changed"]
            .as_array()
            .map(|c| c.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let members = data["members"].as_array().map_or(0, Vec::len);
        let phrase = match kind.as_str() {
            "user.created" => format!("created user {}", user()),
            "user.updated" => format!("updated user {} ({})", user(), changed.join(", ")),
            "user.deactivated" => format!("deactivated user {}", user()),
            "user.reactivated" => format!("reactivated user {}", user()),
            "user.deleted" => format!("deleted user {}", user()),
            "user.sessions_revoked" => {
                let ended = data["sessions"].as_array().map_or(0, Vec::len)
                    + data["refresh_tokens"].as_array().map_or(0, Vec::len);
                if ended == 0 {
                    continue;
                }
                format!("ended {ended} session{} or token{0}", plural(ended))
            }
            "group.created" => format!("created group {}", group()),
            "group.updated" => {
                let named: Vec<&str> = changed.into_iter().filter(|c| *c != "members").collect();
                if named.is_empty() {
                    continue;
                }
                format!("updated group {} ({})", group(), named.join(", "))
            }
            "group.deleted" => format!("deleted group {id}"),
            "group.member.added" => format!(
                "added {members} member{} to group {}",
                plural(members),
                group()
            ),
            "group.member.removed" => format!(
                "removed {members} member{} from group {}",
                plural(members),
                group()
            ),
            other => other.to_owned(),
        };
        out.push(phrase);
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::dialect::{CAPITALISED_OP, OKTA_PATHLESS_REPLACE, STRING_BOOLEAN};
    use super::*;

    fn facts<'a>(method: &'a str, path: &'a str, status: u16) -> Facts<'a> {
        Facts {
            method,
            path,
            status,
            ..Facts::default()
        }
    }

    fn user_event(kind: &str, user_name: &str) -> RecordedEvent {
        (
            kind.to_owned(),
            json!({"id": "u1", "resource": {"userName": user_name}, "changed": ["active"]}),
        )
    }

    #[test]
    fn changes_in_words_with_their_dialect() {
        let events = [
            user_event("user.deactivated", "bjensen@example.com"),
            (
                "user.sessions_revoked".into(),
                json!({"user_id": "u1", "sessions": [], "refresh_tokens": []}),
            ),
        ];
        assert_eq!(
            explain(
                &facts("PATCH", "/Users/u1", 200),
                &events,
                &[OKTA_PATHLESS_REPLACE],
                None
            ),
            "deactivated user bjensen@example.com (Okta pathless replace of active)"
        );
        assert_eq!(
            explain(
                &facts("PATCH", "/Users/u1", 200),
                &events[..1],
                &[CAPITALISED_OP, STRING_BOOLEAN],
                None
            ),
            "deactivated user bjensen@example.com (capitalised ops, string booleans)"
        );
        let removed = (
            "group.member.removed".to_owned(),
            json!({"group_id": "g1", "display_name": "Sales", "members": [{"value": "a"}, {"value": "b"}]}),
        );
        let updated = (
            "group.updated".to_owned(),
            json!({"id": "g1", "changed": ["members"], "resource": {"displayName": "Sales"}}),
        );
        assert_eq!(
            explain(
                &facts("PATCH", "/Groups/g1", 200),
                &[updated, removed],
                &[],
                None
            ),
            "removed 2 members from group Sales"
        );
        assert_eq!(
            explain(&facts("PUT", "/Users/u1", 200), &[], &[], None),
            "no change"
        );
    }

    #[test]
    fn deleted_users_are_named_by_their_revocation() {
        let events = [
            (
                "user.deleted".to_owned(),
                json!({"id": "u1", "resource": null, "changed": []}),
            ),
            (
                "user.sessions_revoked".to_owned(),
                json!({"user_id": "u1", "subject": "bjensen", "sessions": [{"sid": "s"}], "refresh_tokens": []}),
            ),
        ];
        assert_eq!(
            explain(&facts("DELETE", "/Users/u1", 204), &events, &[], None),
            "deleted user bjensen, ended 1 session or token"
        );
    }

    #[test]
    fn reads_and_failures_in_words() {
        let mut list = facts("GET", "/Users", 200);
        list.filter = Some("userName eq \"bjensen\"");
        list.total_results = Some(1);
        assert_eq!(
            explain(&list, &[], &[], None),
            "listed users (filter userName eq \"bjensen\", 1 result)"
        );
        let mut one = facts("GET", "/Users/u1", 200);
        one.resource_name = Some("bjensen");
        assert_eq!(explain(&one, &[], &[], None), "read user bjensen");
        assert_eq!(
            explain(&facts("GET", "/ServiceProviderConfig", 200), &[], &[], None),
            "read ServiceProviderConfig"
        );
        let mut bad = facts("GET", "/Users", 400);
        bad.scim_type = Some("invalidFilter");
        bad.detail = Some("Expected a value.");
        assert_eq!(
            explain(&bad, &[], &[], None),
            "list users failed (400 invalidFilter): Expected a value."
        );
        assert_eq!(
            explain(&facts("POST", "/Users", 401), &[], &[], None),
            "create user failed (401 not authenticated)"
        );
        assert_eq!(
            explain(&facts("DELETE", "/Groups/g1", 404), &[], &[], None),
            "delete group g1 failed (404 not found)"
        );
    }

    #[test]
    fn bulk_names_a_few_changes_and_counts_the_rest() {
        let mut bulk = facts("POST", "/Bulk", 200);
        bulk.bulk = Some((5, 1));
        let events: Vec<RecordedEvent> = ["a", "b", "c", "d"]
            .iter()
            .map(|n| user_event("user.created", n))
            .collect();
        assert_eq!(
            explain(&bulk, &events, &[], None),
            "bulk of 5 operations, 1 failed: created user a, created user b, created user c and 1 more change"
        );
    }

    #[test]
    fn masked_names_in_explanations() {
        let m = Masker::with_salt(b"s");
        let events = [user_event("user.created", "bjensen@example.com")];
        let words = explain(&facts("POST", "/Users", 201), &events, &[], Some(&m));
        assert_eq!(
            words,
            format!("created user {}", m.hash("bjensen@example.com"))
        );
    }
}
