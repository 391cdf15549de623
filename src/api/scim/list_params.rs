//! The list parameters of a request (RFC 7644 §3.4.2, §3.4.3, §3.9): from the query string of
//! a GET or the body of a `POST /.search`, validated into a [`ListQuery`] and a [`Projection`].

use serde_json::Value;

use crate::api::http::HttpRequest;
use crate::scim::discovery::{MAX_RESULTS, RESOURCE_KINDS};
use crate::scim::filter;
use crate::scim::projection::Projection;
use crate::scim::schema::ResourceKind;
use crate::scim::sort::Sort;
use crate::scim::text::member;
use crate::scim::ScimError;
use crate::service::directory::listing::ListQuery;

/// Parses `startIndex` / `count` (RFC 7644 §3.4.2.4): integers; `startIndex` below 1 means 1,
/// a negative `count` means 0, and `count` is capped at [`MAX_RESULTS`].
fn paging(start: Option<i64>, count: Option<i64>) -> (i64, i64) {
    let start = start.unwrap_or(1).max(1);
    let count = count.unwrap_or(MAX_RESULTS).clamp(0, MAX_RESULTS);
    (start, count)
}

/// The list parameters of a request, as the client sent them: from the query string of a GET,
/// or from the body of a `POST /.search` (RFC 7644 §3.4.3).
#[derive(Default, Clone)]
pub struct ListParams {
    filter: Option<String>,
    start_index: Option<i64>,
    count: Option<i64>,
    sort_by: Option<String>,
    sort_order: Option<String>,
    attributes: Option<String>,
    excluded_attributes: Option<String>,
}

impl ListParams {
    pub fn from_query(request: &HttpRequest) -> Result<ListParams, ScimError> {
        let text = |name: &str| request.query_param(name).map(str::to_owned);
        Ok(ListParams {
            filter: text("filter"),
            start_index: integer_param("startIndex", request.query_param("startIndex"))?,
            count: integer_param("count", request.query_param("count"))?,
            sort_by: text("sortBy"),
            sort_order: text("sortOrder"),
            attributes: text("attributes"),
            excluded_attributes: text("excludedAttributes"),
        })
    }

    pub fn from_body(body: &Value) -> Result<ListParams, ScimError> {
        let object = body
            .as_object()
            .ok_or_else(|| ScimError::invalid_syntax("A search body must be a JSON object."))?;
        let get = |name: &str| member(object, name).filter(|v| !v.is_null());
        let int = |name: &str| -> Result<Option<i64>, ScimError> {
            get(name)
                .map(|v| {
                    // Past 64 bits signed: the largest (a page past any end).
                    v.as_i64()
                        .or_else(|| v.as_u64().map(|_| i64::MAX))
                        .ok_or_else(|| {
                            ScimError::invalid_value(format!("{name} must be an integer."))
                        })
                })
                .transpose()
        };
        let text = |name: &str| -> Result<Option<String>, ScimError> {
            get(name)
                .map(|v| {
                    v.as_str().map(str::to_owned).ok_or_else(|| {
                        ScimError::invalid_value(format!("{name} must be a string."))
                    })
                })
                .transpose()
        };
        // `attributes` and `excludedAttributes` are arrays of names in a search body.
        let names = |name: &str| -> Result<Option<String>, ScimError> {
            match get(name) {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|i| i.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
                    .map(|v| Some(v.join(",")))
                    .ok_or_else(|| {
                        ScimError::invalid_value(format!("{name} must be an array of strings."))
                    }),
                Some(_) => Err(ScimError::invalid_value(format!(
                    "{name} must be an array of strings."
                ))),
            }
        };
        if get("filter").is_some_and(|f| !f.is_string()) {
            return Err(ScimError::invalid_filter("filter must be a string."));
        }
        Ok(ListParams {
            filter: text("filter")?,
            start_index: int("startIndex")?,
            count: int("count")?,
            sort_by: text("sortBy")?,
            sort_order: text("sortOrder")?,
            attributes: names("attributes")?,
            excluded_attributes: names("excludedAttributes")?,
        })
    }

    /// The query for one resource type; unknown attribute names are a 400.
    pub fn into_query(self, kind: ResourceKind) -> Result<(ListQuery, Projection), ScimError> {
        let projection = Projection::parse(
            kind,
            self.attributes.as_deref(),
            self.excluded_attributes.as_deref(),
        )?;
        Ok((self.into_list_query(&[kind])?, projection))
    }

    /// The query for one of several resource types searched together (`POST /.search` at the
    /// root): attribute names that this type lacks are skipped.
    pub fn into_query_across(
        self,
        kind: ResourceKind,
    ) -> Result<(ListQuery, Projection), ScimError> {
        let projection = Projection::parse_across(
            kind,
            self.attributes.as_deref(),
            self.excluded_attributes.as_deref(),
        );
        Ok((self.into_list_query(RESOURCE_KINDS)?, projection))
    }

    /// `kinds`: the resource types whose attributes the filter may name.
    fn into_list_query(self, kinds: &[ResourceKind]) -> Result<ListQuery, ScimError> {
        let (start_index, count) = paging(self.start_index, self.count);
        let descending = match self.sort_order.as_deref().map(str::to_ascii_lowercase) {
            None => false,
            Some(order) if order == "ascending" => false,
            Some(order) if order == "descending" => true,
            Some(order) => {
                return Err(ScimError::invalid_value(format!(
                    "sortOrder must be 'ascending' or 'descending', got '{order}'."
                )))
            }
        };
        let sort = match self.sort_by.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(by) => {
                let path = filter::parse_patch_path(by).map_err(|e| {
                    ScimError::invalid_value(format!("Invalid sortBy '{by}': {}", e.message))
                })?;
                if path.filter.is_some() || path.sub_attr.is_some() {
                    return Err(ScimError::invalid_value(format!(
                        "sortBy '{by}' must name an attribute, not a value filter."
                    )));
                }
                Some(Sort {
                    path: path.attr,
                    descending,
                })
            }
        };
        let filter = match self.filter.as_deref() {
            None => None,
            Some(f) if f.trim().is_empty() => None,
            Some(f) => {
                let parsed = filter::parse_filter(f)?;
                filter::validate(&parsed, kinds)?;
                Some(parsed)
            }
        };
        Ok(ListQuery {
            filter,
            start_index,
            count,
            sort,
        })
    }
}

/// An integer query parameter; one too large for 64 bits is the largest (a `startIndex` past
/// any end, a `count` over the cap), one too small the smallest.
fn integer_param(name: &str, raw: Option<&str>) -> Result<Option<i64>, ScimError> {
    raw.map(|v| {
        let v = v.trim();
        let digits = v.strip_prefix(['+', '-']).unwrap_or(v);
        match v.parse::<i64>() {
            Ok(n) => Ok(n),
            Err(_) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
                Ok(if v.starts_with('-') {
                    i64::MIN
                } else {
                    i64::MAX
                })
            }
            Err(_) => Err(ScimError::invalid_value(format!(
                "{name} must be an integer, got '{v}'."
            ))),
        }
    })
    .transpose()
}

/// `attributes` / `excludedAttributes` of a single-resource request (RFC 7644 §3.9).
pub fn projection_of(request: &HttpRequest, kind: ResourceKind) -> Result<Projection, ScimError> {
    Projection::parse(
        kind,
        request.query_param("attributes"),
        request.query_param("excludedAttributes"),
    )
}
