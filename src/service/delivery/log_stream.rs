//! Delivery formats: what one POST to an endpoint carries. An endpoint is a Standard Webhooks
//! receiver (the default: one event per POST, or several in one signed JSON object when it opts
//! into batches) or a *log stream*, batched in the format a log system ingests:
//!
//! - `ndjson`: one event envelope per line (`application/x-ndjson`, <https://github.com/ndjson/ndjson-spec>),
//!   with an optional `Authorization` header value;
//! - `datadog`: the Datadog Logs intake (`POST /api/v2/logs`): a JSON array of log items
//!   `{ddsource, service, ddtags, message, timestamp, event}` with the API key in `DD-API-KEY`;
//! - `splunk_hec`: the Splunk HTTP Event Collector (`POST /services/collector/event`): one JSON
//!   object `{time, source, sourcetype, event}` per event, concatenated, with
//!   `Authorization: Splunk <token>`.
//!
//! Every format also carries the Standard Webhooks headers, signed with the endpoint's secret, so
//! a receiver in front of the log system can check where a batch came from. Pure: the request
//! is built here and tested on the host; the edge only sends it.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::scim::ScimError;

/// Largest body of one batched POST (bytes); a batch that would exceed it is split. Under the
/// Datadog intake's 5 MB per payload and Splunk HEC's historical 1 MB `max_content_length`.
pub const MAX_BATCH_BYTES: usize = 900 * 1024;
/// Most events one POST may carry (`batch_size`). A POST carries at most what one queue batch
/// holds for the endpoint, so the effective size is also bounded by `max_batch_size` in
/// wrangler.toml.
pub const MAX_BATCH_SIZE: u32 = 100;
/// Longest `credential` accepted (characters).
pub const MAX_CREDENTIAL_LEN: usize = 4096;
/// `ddsource`, `service` and Splunk's `source`: what the logs say they come from.
pub const SOURCE: &str = "scim-edge";

/// The format of an endpoint's deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Standard Webhooks: the envelope as the body (`batch_size` 1), or `{"events":[…]}`.
    #[default]
    StandardWebhooks,
    Ndjson,
    Datadog,
    SplunkHec,
}

impl Format {
    pub const ALL: [Format; 4] = [
        Format::StandardWebhooks,
        Format::Ndjson,
        Format::Datadog,
        Format::SplunkHec,
    ];

    /// The name the admin API uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::StandardWebhooks => "standard_webhooks",
            Format::Ndjson => "ndjson",
            Format::Datadog => "datadog",
            Format::SplunkHec => "splunk_hec",
        }
    }

    /// The format named `name`; 400 `invalidValue` naming the known ones otherwise.
    pub fn parse(name: &str) -> Result<Format, ScimError> {
        Format::ALL
            .into_iter()
            .find(|f| f.as_str() == name)
            .ok_or_else(|| {
                ScimError::invalid_value(format!(
                    "format must be one of {}.",
                    Format::ALL.map(Format::as_str).join(", ")
                ))
            })
    }

    /// The stored name, read back; an unknown one (never written) is the default.
    pub fn from_stored(name: &str) -> Format {
        Format::parse(name).unwrap_or_default()
    }

    /// `batch_size` when none is given: one event per POST for webhooks, as many as allowed
    /// for log streams.
    pub fn default_batch_size(self) -> u32 {
        match self {
            Format::StandardWebhooks => 1,
            _ => MAX_BATCH_SIZE,
        }
    }

    /// Whether the format needs a `credential` (the Datadog API key, the Splunk HEC token).
    pub fn needs_credential(self) -> bool {
        matches!(self, Format::Datadog | Format::SplunkHec)
    }

    /// The header that carries the credential, and its value.
    pub fn credential_header(self, credential: &str) -> (String, String) {
        match self {
            Format::Datadog => ("dd-api-key".into(), credential.to_owned()),
            Format::SplunkHec => ("authorization".into(), format!("Splunk {credential}")),
            Format::StandardWebhooks | Format::Ndjson => {
                ("authorization".into(), credential.to_owned())
            }
        }
    }
}

/// A `credential` as sent: 1 to [`MAX_CREDENTIAL_LEN`] visible ASCII characters and spaces (it
/// becomes a header value: no control characters, no line breaks).
pub fn credential(raw: &str) -> Result<String, ScimError> {
    let ok = !raw.trim().is_empty()
        && raw.len() <= MAX_CREDENTIAL_LEN
        && raw.bytes().all(|b| b == b' ' || b.is_ascii_graphic());
    if ok {
        Ok(raw.trim().to_owned())
    } else {
        Err(ScimError::invalid_value(format!(
            "credential must be 1 to {MAX_CREDENTIAL_LEN} visible ASCII characters (it is sent as a header value)."
        )))
    }
}

/// A `batch_size` as sent: an integer from 1 to [`MAX_BATCH_SIZE`].
pub fn batch_size(value: &Value) -> Result<u32, ScimError> {
    value
        .as_u64()
        .filter(|n| (1..=u64::from(MAX_BATCH_SIZE)).contains(n))
        .map(|n| n as u32)
        .ok_or_else(|| {
            ScimError::invalid_value(format!(
                "batch_size must be an integer from 1 to {MAX_BATCH_SIZE}."
            ))
        })
}

/// The body of one POST carrying `events` (envelopes) in `format`: `(content type, body,
/// message id)`. The message id is the `webhook-id` header: the event id for a single Standard
/// Webhooks event, otherwise `batch_` and the first 24 hex digits of the SHA-256 of the event
/// ids, so the same batch sent again has the same id.
pub fn body(format: Format, batch_size: u32, events: &[&Value]) -> (&'static str, String, String) {
    let id_of = |e: &Value| {
        e.get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let batch_id = || {
        let mut hash = Sha256::new();
        for e in events {
            hash.update(id_of(e).as_bytes());
            hash.update(b"\n");
        }
        let digest = hash.finalize();
        let hex: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
        format!("batch_{hex}")
    };
    match format {
        Format::StandardWebhooks if batch_size <= 1 && events.len() == 1 => {
            (JSON, events[0].to_string(), id_of(events[0]))
        }
        Format::StandardWebhooks => (JSON, json!({ "events": events }).to_string(), batch_id()),
        Format::Ndjson => {
            let mut out = String::new();
            for e in events {
                out.push_str(&e.to_string());
                out.push('\n');
            }
            (NDJSON, out, batch_id())
        }
        Format::Datadog => {
            let items: Vec<Value> = events.iter().map(|e| datadog_item(e)).collect();
            (JSON, Value::from(items).to_string(), batch_id())
        }
        Format::SplunkHec => {
            let mut out = String::new();
            for e in events {
                out.push_str(&splunk_event(e).to_string());
            }
            (JSON, out, batch_id())
        }
    }
}

/// `application/json`.
pub const JSON: &str = "application/json";
/// `application/x-ndjson`.
pub const NDJSON: &str = "application/x-ndjson";

fn member<'a>(event: &'a Value, name: &str) -> &'a str {
    event.get(name).and_then(Value::as_str).unwrap_or_default()
}

/// One Datadog log item: the envelope as the `event` attribute, tags to filter on, a short
/// `message`, and the event's time as `timestamp` (Datadog's reserved date attribute).
fn datadog_item(event: &Value) -> Value {
    let mut tags = vec![format!("event_type:{}", member(event, "type"))];
    if let Some(c) = event.get("connection_id").and_then(Value::as_str) {
        tags.push(format!("connection_id:{c}"));
    }
    json!({
        "ddsource": SOURCE,
        "service": SOURCE,
        "ddtags": tags.join(","),
        "message": format!("{} {}", member(event, "type"), member(event, "id")),
        "timestamp": member(event, "occurred_at"),
        "event": event,
    })
}

/// One Splunk HEC event: `time` in epoch seconds (with milliseconds) from `occurred_at`.
fn splunk_event(event: &Value) -> Value {
    let mut out = json!({
        "source": SOURCE,
        "sourcetype": "_json",
        "event": event,
    });
    if let Some(seconds) = epoch_seconds(member(event, "occurred_at")) {
        out["time"] = json!(seconds);
    }
    out
}

/// An RFC 3339 time as Unix seconds with a fraction.
fn epoch_seconds(rfc3339: &str) -> Option<f64> {
    let t = time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .ok()?;
    Some((t.unix_timestamp_nanos() / 1_000_000) as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn event(id: &str) -> Value {
        json!({"id": id, "type": "user.created", "connection_id": "con_1",
               "occurred_at": "2027-01-15T08:00:00.250Z", "sequence": 1, "actor": "token:t",
               "request_id": null, "data": {"userName": "ünï"}})
    }

    #[test]
    fn formats_round_trip_by_name() {
        for f in Format::ALL {
            assert_eq!(Format::parse(f.as_str()).unwrap(), f);
        }
        assert!(Format::parse("syslog").is_err());
        assert_eq!(Format::from_stored("nonsense"), Format::StandardWebhooks);
    }

    #[test]
    fn a_single_webhook_is_the_bare_envelope_and_a_batch_an_object() {
        let (a, b) = (event("evt_a"), event("evt_b"));
        let (ct, body1, id) = body(Format::StandardWebhooks, 1, &[&a]);
        assert_eq!((ct, id.as_str()), ("application/json", "evt_a"));
        assert_eq!(serde_json::from_str::<Value>(&body1).unwrap(), a);
        let (_, body2, id2) = body(Format::StandardWebhooks, 10, &[&a, &b]);
        assert_eq!(
            serde_json::from_str::<Value>(&body2).unwrap(),
            json!({"events": [a, b]})
        );
        assert!(id2.starts_with("batch_") && id2.len() == "batch_".len() + 24);
        assert_eq!(
            id2,
            body(Format::Ndjson, 10, &[&a, &b]).2,
            "same events, same id"
        );
        assert_ne!(id2, body(Format::Ndjson, 10, &[&b, &a]).2);
    }

    #[test]
    fn ndjson_is_one_envelope_per_line() {
        let (a, b) = (event("evt_a"), event("evt_b"));
        let (ct, text, _) = body(Format::Ndjson, 100, &[&a, &b]);
        assert_eq!(ct, "application/x-ndjson");
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines, vec![a, b]);
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn datadog_items_carry_tags_time_and_the_envelope() {
        let a = event("evt_a");
        let (_, text, _) = body(Format::Datadog, 100, &[&a]);
        let items: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            items,
            json!([{"ddsource": "scim-edge", "service": "scim-edge",
                    "ddtags": "event_type:user.created,connection_id:con_1",
                    "message": "user.created evt_a", "timestamp": "2027-01-15T08:00:00.250Z",
                    "event": a}])
        );
        assert_eq!(
            Format::Datadog.credential_header("k"),
            ("dd-api-key".into(), "k".into())
        );
    }

    #[test]
    fn splunk_events_are_concatenated_objects_with_epoch_time() {
        let (a, b) = (event("evt_a"), event("evt_b"));
        let (_, text, _) = body(Format::SplunkHec, 100, &[&a, &b]);
        let parsed: Vec<Value> = serde_json::Deserializer::from_str(&text)
            .into_iter::<Value>()
            .map(Result::unwrap)
            .collect();
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[0]["event"], a);
        assert_eq!(parsed[0]["time"], json!(1_800_000_000.25));
        assert_eq!(parsed[1]["sourcetype"], "_json");
        assert_eq!(
            Format::SplunkHec.credential_header("tok"),
            ("authorization".into(), "Splunk tok".into())
        );
    }

    #[test]
    fn credentials_are_header_safe() {
        assert_eq!(credential(" Bearer abc ").unwrap(), "Bearer abc");
        for bad in ["", "   ", "a\r\nx-evil: 1", "tab\there", "ünï"] {
            assert!(credential(bad).is_err(), "{bad:?}");
        }
        assert!(credential(&"a".repeat(MAX_CREDENTIAL_LEN + 1)).is_err());
        assert_eq!(batch_size(&json!(20)).unwrap(), 20);
        for bad in [json!(0), json!(101), json!(1.5), json!("5"), json!(-1)] {
            assert!(batch_size(&bad).is_err(), "{bad}");
        }
    }
}
