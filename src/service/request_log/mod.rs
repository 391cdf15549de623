//! The SCIM request log of one connection: every SCIM request that reached the connection's
//! object, recorded in its database after the request's own transaction, in a best-effort write
//! of its own (a failing log write loses the entry, never the operation): time, method, path
//! and query, status with `scimType` and `detail`, duration, the token, the request id, the
//! IdP's `User-Agent`, the resource touched, the bodies ([`body`]: secrets removed, capped,
//! [`mask`]ed on request), an explanation in words ([`explain`], from the events the request
//! recorded) and the IdP [`dialect`] features it relied on. A failed request also records
//! `scim.request.failed` in the same write. Read back newest first ([`read`]).
//!
//! Bounded per connection: [`MAX_ENTRIES`] entries and [`RETENTION_DAYS`] days, pruned every
//! [`PRUNE_EVERY`] entries (so a full log holds up to `PRUNE_EVERY - 1` entries more between
//! two prunings) by ranges of `seq`, never by scanning the table. The summary's counters are kept in
//! `request_log_counter`, raised on each entry and lowered by what pruning removes.

pub mod body;
pub mod dialect;
pub mod explain;
pub mod mask;
pub mod read;

use serde::Deserialize;
use serde_json::Value;

use self::dialect::Feature;
use self::explain::{Facts, RecordedEvent};
use self::mask::Masker;
use crate::scim::ScimError;
use crate::service::clock::{random_id, Random, Timestamp};
use crate::service::connection::settings::{self, RequestLogSettings};
use crate::service::event::{self, kind::RequestFailed, Event, Origin};
use crate::service::store::{int, opt_text, text, transact, SqlValue, Store};

/// Most entries a connection's log keeps.
pub const MAX_ENTRIES: i64 = 10_000;
/// How long entries are kept, in days.
pub const RETENTION_DAYS: i64 = 14;
/// Entries are pruned by age once every this many entries.
pub const PRUNE_EVERY: i64 = 50;
/// At most one `scim.request.failed` event a minute for unauthenticated requests: a flood of
/// bad tokens is in the log, but does not flood the webhooks.
pub const UNAUTHENTICATED_EVENT_SECONDS: i64 = 60;

/// How much a log keeps: [`Retention::DEFAULT`] in production (tests use smaller ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub max_entries: i64,
    pub max_age_days: i64,
    pub prune_every: i64,
}

impl Retention {
    pub const DEFAULT: Retention = Retention {
        max_entries: MAX_ENTRIES,
        max_age_days: RETENTION_DAYS,
        prune_every: PRUNE_EVERY,
    };
}

/// One SCIM request and its answer, as the log needs them (plain values: no HTTP types).
#[derive(Debug, Clone)]
pub struct Exchange<'a> {
    /// `X-Request-Id` as the Worker set it; one is made when absent (host tools).
    pub request_id: Option<&'a str>,
    pub method: &'a str,
    /// Below the SCIM base URL.
    pub path: &'a str,
    /// Decoded query parameters.
    pub query: &'a [(String, String)],
    pub user_agent: Option<&'a str>,
    pub request_body: &'a [u8],
    pub status: u16,
    pub response_body: &'a [u8],
    /// `token:<id>` of the credential that authenticated it; `None` when none did (the bodies
    /// of unauthenticated requests are not kept).
    pub actor: Option<&'a str>,
    pub started: Timestamp,
    pub finished: Timestamp,
    /// The event log's last `seq` before the operation ran ([`events_watermark`]): the events
    /// after it with this request id are the ones it recorded. `None` when it could not write.
    pub events_after: Option<i64>,
    /// The connection's request log settings, when the request read them already.
    pub options: Option<RequestLogSettings>,
}

/// The event log's last `seq`, read before an operation so that its events can be found after
/// it without an index on `request_id` (the object runs one request at a time, synchronously).
pub fn events_watermark(store: &dyn Store) -> Result<i64, ScimError> {
    let row = store.query_one("SELECT COALESCE(MAX(seq), 0) FROM event", &[])?;
    Ok(row.map(|r| int(&r, 0)).transpose()?.unwrap_or(0))
}

/// What the log reads of a response body without building it as JSON: a list's size, the
/// resource's id and name, an error's `scimType` and `detail`, a Bulk response's statuses.
#[derive(Debug, Default, Deserialize)]
struct ResponseHead {
    id: Option<String>,
    #[serde(rename = "userName")]
    user_name: Option<String>,
    #[serde(rename = "displayName")]
    display_name: Option<String>,
    #[serde(rename = "totalResults")]
    total_results: Option<i64>,
    #[serde(rename = "scimType")]
    scim_type: Option<String>,
    detail: Option<String>,
    #[serde(rename = "Operations")]
    operations: Option<Vec<BulkOutcome>>,
}

#[derive(Debug, Default, Deserialize)]
struct BulkOutcome {
    status: Option<Value>,
}

/// Records one request in the connection's log, in a transaction of its own: the entry, the
/// summary counters, `scim.request.failed` for a failure, and pruning. Returns the entry's
/// request id. The caller ignores an error (the request's answer does not change).
pub fn record(
    store: &dyn Store,
    random: &mut dyn Random,
    exchange: &Exchange,
    retention: Retention,
) -> Result<String, ScimError> {
    transact(store, || record_now(store, random, exchange, retention))
}

/// Records several requests (reads answered together) in one transaction, oldest first: one
/// commit for all of them. A failure loses the whole batch, never an operation.
pub fn record_all(
    store: &dyn Store,
    random: &mut dyn Random,
    exchanges: &[Exchange],
    retention: Retention,
) -> Result<(), ScimError> {
    transact(store, || {
        exchanges
            .iter()
            .try_for_each(|x| record_now(store, random, x, retention).map(|_| ()))
    })
}

fn record_now(
    store: &dyn Store,
    random: &mut dyn Random,
    x: &Exchange,
    retention: Retention,
) -> Result<String, ScimError> {
    let options = match x.options {
        Some(options) => options,
        None => settings::load(store)?.request_log,
    };
    let masker = if options.mask_pii {
        Some(Masker::of_connection(store, random)?)
    } else {
        None
    };
    let masker = masker.as_ref();
    let request_id = match x.request_id {
        Some(id) => id.to_owned(),
        None => random_id(random, "req_", 12)?,
    };
    let segments: Vec<&str> = x.path.split('/').filter(|s| !s.is_empty()).collect();
    let resource_type = match segments.first() {
        Some(s) if s.eq_ignore_ascii_case("Users") => Some("User"),
        Some(s) if s.eq_ignore_ascii_case("Groups") => Some("Group"),
        _ => None,
    };
    let group = resource_type == Some("Group");
    let parsed: Option<Value> = serde_json::from_slice(x.request_body).ok();
    let features = dialect::detect(x.method, x.path, parsed.as_ref());
    let head: ResponseHead = serde_json::from_slice(x.response_body).unwrap_or_default();
    let failed = x.status >= 400;
    let (scim_type, detail) = if failed {
        let detail = head.detail.as_deref().map(|d| match masker {
            Some(m) => m.mask_detail(d),
            None => d.to_owned(),
        });
        (head.scim_type.clone(), detail)
    } else {
        (None, None)
    };
    let resource_id = match (resource_type, segments.get(1)) {
        (Some(_), Some(id)) if *id != ".search" => Some((*id).to_owned()),
        (Some(_), None) if x.status == 201 => head.id.clone(),
        _ => None,
    };
    let events = match x.events_after {
        Some(after) => recorded_events(store, after, x.request_id)?,
        None => Vec::new(),
    };
    let query = query_text(x.query, masker);
    let filter = x
        .query
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("filter"))
        .map(|(_, v)| match masker {
            Some(m) => m.mask_filter(v),
            None => v.clone(),
        });
    let resource_name = head
        .user_name
        .as_deref()
        .or(head.display_name.as_deref())
        .map(|n| match masker {
            Some(m) if !group || head.user_name.is_some() => m.hash(n),
            _ => n.to_owned(),
        });
    let bulk = head.operations.as_ref().map(|ops| {
        let failed = ops
            .iter()
            .filter(|op| {
                let status = match &op.status {
                    Some(Value::String(s)) => s.parse::<u16>().unwrap_or(0),
                    Some(Value::Number(n)) => n.as_u64().unwrap_or(0) as u16,
                    _ => 0,
                };
                status >= 400
            })
            .count();
        (ops.len(), failed)
    });
    let facts = Facts {
        method: x.method,
        path: x.path,
        filter: filter.as_deref(),
        status: x.status,
        scim_type: scim_type.as_deref(),
        detail: detail.as_deref(),
        total_results: head.total_results,
        resource_name: resource_name.as_deref(),
        bulk,
    };
    let explanation = explain::explain(&facts, &events, &features, masker);
    // Unauthenticated requests are kept without their bodies.
    let (request_body, response_body) = if x.actor.is_some() {
        let request_body = match parsed {
            Some(value) => Some(body::logged(value, masker, group)),
            None => body::request_body(x.request_body, masker, group),
        };
        let response_body = body::response_body(x.response_body, masker, group);
        (request_body, response_body)
    } else {
        (None, None)
    };
    let codes: Vec<&str> = features.iter().map(|f| f.code).collect();
    let at = x.started.to_rfc3339();
    let row = store.query_one(
        "INSERT INTO request_log (id, occurred_at, method, path, query, status, scim_type,
             detail, duration_ms, actor, user_agent, resource_type, resource_id, explanation,
             dialect, request_body, response_body)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         RETURNING seq",
        &[
            request_id.clone().into(),
            at.clone().into(),
            x.method.to_ascii_uppercase().into(),
            x.path.into(),
            query.clone().into(),
            i64::from(x.status).into(),
            scim_type.clone().into(),
            detail.clone().into(),
            (x.finished.0 - x.started.0).max(0).into(),
            x.actor.into(),
            x.user_agent.map(|u| body::prefix(u, 512)).into(),
            resource_type.into(),
            resource_id.into(),
            explanation.into(),
            serde_json::to_string(&codes).unwrap_or_default().into(),
            request_body.as_ref().map(Value::to_string).into(),
            response_body.clone().into(),
        ],
    )?;
    let seq = row
        .map(|r| int(&r, 0))
        .transpose()?
        .ok_or_else(|| ScimError::internal_because("request_log insert returned no seq"))?;
    count(store, x.status, &features, &at)?;
    if failed {
        let failure = RequestFailed {
            request_id: request_id.clone(),
            method: x.method.to_ascii_uppercase(),
            path: x.path.to_owned(),
            query,
            status: x.status,
            scim_type,
            detail,
            request_body: request_body.filter(|_| options.failed_event_bodies),
            response_body: response_body
                .filter(|_| options.failed_event_bodies)
                .and_then(|text| serde_json::from_str(&text).ok()),
        };
        record_failure(store, random, x, &request_id, failure)?;
    }
    prune(store, x.finished, seq, retention)?;
    Ok(request_id)
}

/// The events recorded after `after` by this request (oldest first).
fn recorded_events(
    store: &dyn Store,
    after: i64,
    request_id: Option<&str>,
) -> Result<Vec<RecordedEvent>, ScimError> {
    let rows = store.query(
        "SELECT type, data FROM event WHERE seq > ? AND request_id IS ? ORDER BY seq",
        &[after.into(), request_id.into()],
    )?;
    rows.iter()
        .map(|row| {
            let data = serde_json::from_str(&text(row, 1)?).unwrap_or(Value::Null);
            Ok((text(row, 0)?, data))
        })
        .collect()
}

/// The query as `name=value&…` (decoded, for reading), secrets removed, masked on request.
fn query_text(query: &[(String, String)], masker: Option<&Masker>) -> Option<String> {
    if query.is_empty() {
        return None;
    }
    let parts: Vec<String> = query
        .iter()
        .map(|(k, v)| {
            let v = if body::is_secret_name(k) {
                body::REMOVED.to_owned()
            } else {
                match masker {
                    Some(m) if k.eq_ignore_ascii_case("filter") => m.mask_filter(v),
                    Some(m) => m.mask_text(v),
                    None => v.clone(),
                }
            };
            format!("{k}={v}")
        })
        .collect();
    Some(body::prefix(&parts.join("&"), 4096).to_owned())
}

/// Raises the summary's counters for one entry (one statement).
fn count(store: &dyn Store, status: u16, features: &[Feature], at: &str) -> Result<(), ScimError> {
    let mut keys = vec!["requests".to_owned(), format!("status:{status}")];
    if status >= 400 {
        keys.push("errors".into());
    }
    keys.extend(features.iter().map(|f| format!("dialect:{}", f.code)));
    let rows = vec!["(?, 1, ?)"; keys.len()].join(", ");
    let params: Vec<SqlValue> = keys
        .into_iter()
        .flat_map(|k| [k.into(), at.into()])
        .collect();
    store.execute(
        &format!(
            "INSERT INTO request_log_counter (key, count, last_seen) VALUES {rows}
             ON CONFLICT (key) DO UPDATE SET count = count + 1, last_seen = excluded.last_seen"
        ),
        &params,
    )?;
    Ok(())
}

/// `scim.request.failed`, with the request's actor; an unauthenticated one at most once per
/// [`UNAUTHENTICATED_EVENT_SECONDS`].
fn record_failure(
    store: &dyn Store,
    random: &mut dyn Random,
    x: &Exchange,
    request_id: &str,
    failure: RequestFailed,
) -> Result<(), ScimError> {
    if x.actor.is_none() {
        let last = store
            .query_one(
                "SELECT last_seen FROM request_log_counter WHERE key = 'unauthenticated_event'",
                &[],
            )?
            .and_then(|r| opt_text(&r, 0));
        let horizon = x
            .finished
            .plus_seconds(-UNAUTHENTICATED_EVENT_SECONDS)
            .to_rfc3339();
        if last.is_some_and(|last| last > horizon) {
            return Ok(());
        }
        store.execute(
            "INSERT INTO request_log_counter (key, count, last_seen)
             VALUES ('unauthenticated_event', 1, ?)
             ON CONFLICT (key) DO UPDATE SET count = count + 1, last_seen = excluded.last_seen",
            &[x.finished.to_rfc3339().into()],
        )?;
    }
    let origin = Origin {
        actor: x.actor.unwrap_or("unauthenticated"),
        request_id: Some(request_id),
    };
    event::record(
        store,
        random,
        x.finished,
        origin,
        &Event::ScimRequestFailed(failure),
    )?;
    Ok(())
}

/// Keeps the log within `retention`, every `prune_every` entries: what is past the count and
/// what is older than the age limit go, as one range of `seq` (the age's end found through the
/// time index), and the counters are lowered by what was removed.
fn prune(
    store: &dyn Store,
    now: Timestamp,
    seq: i64,
    retention: Retention,
) -> Result<(), ScimError> {
    if seq % retention.prune_every.max(1) != 0 {
        return Ok(());
    }
    let mut cut = seq - retention.max_entries;
    {
        let horizon = now
            .plus_seconds(-retention.max_age_days * 24 * 3600)
            .to_rfc3339();
        let old = store.query_one(
            "SELECT MAX(seq) FROM request_log WHERE occurred_at < ?",
            &[horizon.into()],
        )?;
        let old = old.and_then(|r| r.first().and_then(SqlValue::as_i64));
        cut = cut.max(old.unwrap_or(0));
    }
    if cut <= 0 {
        return Ok(());
    }
    let removed = store.query(
        "SELECT status, dialect FROM request_log WHERE seq <= ?",
        &[cut.into()],
    )?;
    if removed.is_empty() {
        return Ok(());
    }
    let mut lower: std::collections::BTreeMap<String, i64> = Default::default();
    for row in &removed {
        let status = int(row, 0)?;
        *lower.entry("requests".into()).or_default() += 1;
        *lower.entry(format!("status:{status}")).or_default() += 1;
        if status >= 400 {
            *lower.entry("errors".into()).or_default() += 1;
        }
        let codes: Vec<String> = serde_json::from_str(&text(row, 1)?).unwrap_or_default();
        for code in codes {
            *lower.entry(format!("dialect:{code}")).or_default() += 1;
        }
    }
    store.execute("DELETE FROM request_log WHERE seq <= ?", &[cut.into()])?;
    for (key, n) in lower {
        store.execute(
            "UPDATE request_log_counter SET count = count - ? WHERE key = ?",
            &[n.into(), key.into()],
        )?;
    }
    store.execute(
        "DELETE FROM request_log_counter WHERE count <= 0 AND key <> 'unauthenticated_event'",
        &[],
    )?;
    Ok(())
}
