//! One connection's SCIM endpoint: authentication, routing below the base URL, and the mapping
//! of outcomes to HTTP (RFC 7644 §3).

pub mod bulk;
pub mod endpoint;
pub mod list_params;

use endpoint::not_allowed;
use list_params::ListParams;

use crate::api::http::{HttpRequest, HttpResponse, REQUEST_ID_HEADER};
use crate::scim::discovery::{self, RESOURCE_KINDS};
use crate::scim::filter::AttrPath;
use crate::scim::schema::ResourceKind;
use crate::scim::sort::{self, SortKey};
use crate::scim::ScimError;
use crate::service::clock::{Random, Timestamp};
use crate::service::connection::rate_limit::Bucket;
use crate::service::connection::settings::{self, RequestLogSettings};
use crate::service::connection::token::{self, Principal};
use crate::service::directory::group;
use crate::service::directory::listing::ListQuery;
use crate::service::directory::resources::{Groups, Resources, Users};
use crate::service::directory::user::{self, Ctx};
use crate::service::request_log::{self, Exchange, Retention};
use crate::service::store::{transact, Store};

/// Handles one SCIM request for a connection without rate limiting (host tests, tools).
pub fn handle(
    store: &dyn Store,
    random: &mut dyn Random,
    base_url: &str,
    now: Timestamp,
    request: &HttpRequest,
) -> HttpResponse {
    handle_limited(store, random, &mut Bucket::new(), base_url, now, request)
}

/// Handles one SCIM request for a connection: authentication, the connection's rate limit (one
/// token of `limiter` per authenticated request), then the operation. All of its writes commit
/// together, or none do.
pub fn handle_limited(
    store: &dyn Store,
    random: &mut dyn Random,
    limiter: &mut Bucket,
    base_url: &str,
    now: Timestamp,
    request: &HttpRequest,
) -> HttpResponse {
    serve(store, random, limiter, base_url, now, request).response
}

/// One SCIM request served: the response, and what the request log needs of it.
#[derive(Debug, Clone)]
pub struct Served {
    pub response: HttpResponse,
    /// `token:<id>` of the token that authenticated the request; `None` when none did.
    pub actor: Option<String>,
    /// The event log's last `seq` before the operation ran (service::request_log finds the
    /// events the request recorded after it); `None` for reads and refused requests.
    pub events_after: Option<i64>,
    /// The connection's request log settings, read with the rate limit.
    pub log_settings: Option<RequestLogSettings>,
}

/// [`handle_limited`], returning what the request log needs too ([`record`]).
pub fn serve(
    store: &dyn Store,
    random: &mut dyn Random,
    limiter: &mut Bucket,
    base_url: &str,
    now: Timestamp,
    request: &HttpRequest,
) -> Served {
    let ctx = Ctx {
        base_url,
        now,
        request_id: request.header(REQUEST_ID_HEADER),
    };
    let mut actor = None;
    let mut log_settings = None;
    let admitted = transact(store, || {
        let principal = token::authenticate(store, now, request.header("authorization"))?;
        actor = Some(format!("token:{}", principal.token_id));
        let settings = settings::load(store)?;
        log_settings = Some(settings.request_log);
        let rate = settings.rate_limit;
        limiter.take(now, rate)?;
        Ok::<_, ScimError>((principal, rate))
    });
    let (principal, rate) = match admitted {
        Ok(p) => p,
        Err(e) => {
            return Served {
                response: e.into(),
                actor,
                events_after: None,
                log_settings,
            }
        }
    };
    // Reads record no events: only a write needs to know where its events start.
    let events_after = if request.method.eq_ignore_ascii_case("GET") {
        None
    } else {
        request_log::events_watermark(store).ok()
    };
    let is_bulk = request.method.eq_ignore_ascii_case("POST")
        && request
            .path
            .trim_end_matches('/')
            .eq_ignore_ascii_case("/Bulk");
    let response = if is_bulk {
        // Each operation of a Bulk request is atomic on its own (RFC 7644 §3.7), and counts
        // against the rate limit like a request of its own: the request paid for the first, each
        // further one takes a token or is answered 429 (hardening: a Bulk of 1,000 creates must
        // not pass a limit of 1 request/s).
        let mut first = true;
        let mut run = |sub: &HttpRequest| {
            if !std::mem::take(&mut first) {
                if let Err(limited) = limiter.take(now, rate) {
                    return HttpResponse::from(limited);
                }
            }
            transact(store, || route(store, random, &ctx, &principal, sub))
                .unwrap_or_else(HttpResponse::from)
        };
        bulk::handle(request, base_url, &mut run).unwrap_or_else(HttpResponse::from)
    } else {
        transact(store, || route(store, random, &ctx, &principal, request))
            .unwrap_or_else(HttpResponse::from)
    };
    Served {
        response,
        actor,
        events_after,
        log_settings,
    }
}

/// Records a served request in the connection's request log (service::request_log), after the
/// operation's own transaction, in a write of its own: `started` when the object received it,
/// `finished` when it was answered. Best effort: an error is returned for the operator's log,
/// and the response stays what it was.
pub fn record(
    store: &dyn Store,
    random: &mut dyn Random,
    request: &HttpRequest,
    served: &Served,
    times: (Timestamp, Timestamp),
) -> Result<(), ScimError> {
    let exchange = exchange(request, served, times);
    request_log::record(store, random, &exchange, Retention::DEFAULT).map(|_| ())
}

/// [`record`] for several requests answered one after another, in one transaction (one commit):
/// a failure loses them all, never an answer.
pub fn record_all(
    store: &dyn Store,
    random: &mut dyn Random,
    served: &[(HttpRequest, Served, (Timestamp, Timestamp))],
) -> Result<(), ScimError> {
    let exchanges: Vec<Exchange> = served
        .iter()
        .map(|(request, served, times)| exchange(request, served, *times))
        .collect();
    request_log::record_all(store, random, &exchanges, Retention::DEFAULT)
}

fn exchange<'a>(
    request: &'a HttpRequest,
    served: &'a Served,
    (started, finished): (Timestamp, Timestamp),
) -> Exchange<'a> {
    Exchange {
        request_id: request.header(REQUEST_ID_HEADER),
        method: &request.method,
        path: &request.path,
        query: &request.query,
        user_agent: request.header("user-agent"),
        request_body: &request.body,
        status: served.response.status,
        response_body: &served.response.body,
        actor: served.actor.as_deref(),
        started,
        finished,
        events_after: served.events_after,
        options: served.log_settings,
    }
}

fn route(
    store: &dyn Store,
    random: &mut dyn Random,
    ctx: &Ctx,
    principal: &Principal,
    request: &HttpRequest,
) -> Result<HttpResponse, ScimError> {
    let segments: Vec<&str> = request.path.split('/').filter(|s| !s.is_empty()).collect();
    let method = request.method.to_ascii_uppercase();
    let base = ctx.base_url;
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["ServiceProviderConfig"]) => Ok(HttpResponse::scim_json(
            200,
            &discovery::service_provider_config(
                base,
                bulk::MAX_OPERATIONS,
                super::http::MAX_BODY_BYTES,
            ),
        )),
        ("GET", ["ResourceTypes"]) => {
            let types = RESOURCE_KINDS
                .iter()
                .map(|k| discovery::resource_type(*k, base))
                .collect::<Vec<_>>();
            let total = types.len() as i64;
            Ok(HttpResponse::scim_json(
                200,
                &discovery::list_response(types, total, 1),
            ))
        }
        ("GET", ["ResourceTypes", name]) => RESOURCE_KINDS
            .iter()
            .find(|k| k.name().eq_ignore_ascii_case(name))
            .map(|k| HttpResponse::scim_json(200, &discovery::resource_type(*k, base)))
            .ok_or_else(|| ScimError::not_found(format!("Resource type '{name}' not found."))),
        ("GET", ["Schemas"]) => {
            let schemas = discovery::schemas()
                .iter()
                .map(|s| s.to_json(base))
                .collect::<Vec<_>>();
            let total = schemas.len() as i64;
            Ok(HttpResponse::scim_json(
                200,
                &discovery::list_response(schemas, total, 1),
            ))
        }
        ("GET", ["Schemas", id]) => discovery::schemas()
            .iter()
            .find(|s| s.id.eq_ignore_ascii_case(id))
            .map(|s| HttpResponse::scim_json(200, &s.to_json(base)))
            .ok_or_else(|| ScimError::not_found(format!("Schema '{id}' not found."))),
        (_, ["Users", ..]) => {
            endpoint::route::<Users>(store, random, ctx, principal, request, &method, &segments)
        }
        (_, ["Groups", ..]) => {
            endpoint::route::<Groups>(store, random, ctx, principal, request, &method, &segments)
        }
        ("POST", [".search"]) => search_all(store, ctx, principal, request),
        (_, ["Bulk"] | [".search"]) => Err(not_allowed(&method, request, "POST")),
        (_, ["ServiceProviderConfig" | "ResourceTypes" | "Schemas"])
        | (_, ["ResourceTypes" | "Schemas", _]) => Err(not_allowed(&method, request, "GET")),
        _ => Err(ScimError::not_found(format!(
            "No SCIM endpoint at '{}'.",
            request.path
        ))),
    }
}

/// `POST /.search` at the root (RFC 7644 §3.4.3): Users, then Groups, as one paged result over
/// the types the token may read; with `sortBy`, the whole result is ordered across types.
fn search_all(
    store: &dyn Store,
    ctx: &Ctx,
    principal: &Principal,
    request: &HttpRequest,
) -> Result<HttpResponse, ScimError> {
    let can_read = |scope: &str| principal.has(scope);
    if !can_read(Users::READ_SCOPE) && !can_read(Groups::READ_SCOPE) {
        return Err(ScimError::forbidden(
            "This token lacks the 'read:users' and 'read:groups' scopes.",
        ));
    }
    let params = ListParams::from_body(&request.json_body()?)?;
    let query = params.clone().into_query_across(ResourceKind::User)?.0;
    // What the token may not read through one type is not searchable through it either.
    for kind in [ResourceKind::User, ResourceKind::Group] {
        endpoint::scoped(principal, kind, &query, Default::default())?;
    }
    if let Some(order) = query.sort.clone() {
        // Sorted: the whole result across types is ordered, then paged.
        let mut keyed = Vec::new();
        if can_read(Users::READ_SCOPE) {
            keyed.extend(sorted_all::<Users>(
                store,
                ctx,
                principal,
                &params,
                &query,
                user::case_exact,
            )?);
        }
        if can_read(Groups::READ_SCOPE) {
            keyed.extend(sorted_all::<Groups>(
                store,
                ctx,
                principal,
                &params,
                &query,
                group::case_exact,
            )?);
        }
        keyed.sort_by(|(a, _), (b, _)| sort::compare(a, b, order.descending));
        let total = keyed.len() as i64;
        let resources = keyed
            .into_iter()
            .skip((query.start_index - 1).max(0) as usize)
            .take(query.count.max(0) as usize)
            .map(|(_, v)| v)
            .collect();
        return Ok(HttpResponse::scim_json(
            200,
            &discovery::list_response(resources, total, query.start_index),
        ));
    }
    let mut search = Across {
        principal,
        query,
        params,
        skip: 0,
        resources: Vec::new(),
        total: 0,
    };
    // Items before the page still to skip, and room left on it.
    search.skip = search.query.start_index - 1;
    if can_read(Users::READ_SCOPE) {
        search.add::<Users>(store, ctx)?;
    }
    if can_read(Groups::READ_SCOPE) {
        search.add::<Groups>(store, ctx)?;
    }
    Ok(HttpResponse::scim_json(
        200,
        &discovery::list_response(search.resources, search.total, search.query.start_index),
    ))
}

/// Every match of one type with its sort key (from the full resource, so a sort attribute that
/// the projection leaves out still orders), rendered with the projection.
fn sorted_all<R: Resources>(
    store: &dyn Store,
    ctx: &Ctx,
    principal: &Principal,
    params: &ListParams,
    query: &ListQuery,
    case_exact: fn(&AttrPath) -> bool,
) -> Result<Vec<(SortKey, serde_json::Value)>, ScimError> {
    let (_, shown) = params.clone().into_query_across(R::KIND)?;
    let shown = endpoint::withheld(principal, R::KIND, shown);
    let Some(order) = &query.sort else {
        return Ok(Vec::new());
    };
    let all = ListQuery {
        start_index: 1,
        count: i64::MAX / 2,
        ..query.clone()
    };
    let page = R::list(store, ctx, &all, &shown)?;
    Ok(page
        .items
        .iter()
        .map(|item| {
            let full = R::render(item, ctx.base_url);
            let key = sort::key_at(&full, &order.path, case_exact(&order.path));
            let mut body = full;
            shown.apply(R::KIND, &mut body);
            (key, body)
        })
        .collect())
}

/// A search across resource types, filled one type after another.
struct Across<'a> {
    principal: &'a Principal,
    params: ListParams,
    query: ListQuery,
    skip: i64,
    resources: Vec<serde_json::Value>,
    total: i64,
}

impl Across<'_> {
    fn add<R: Resources>(&mut self, store: &dyn Store, ctx: &Ctx) -> Result<(), ScimError> {
        let (_, shown) = self.params.clone().into_query_across(R::KIND)?;
        let shown = endpoint::withheld(self.principal, R::KIND, shown);
        let room = self.query.count - self.resources.len() as i64;
        let page = R::list(
            store,
            ctx,
            &ListQuery {
                start_index: self.skip + 1,
                count: room,
                ..self.query.clone()
            },
            &shown,
        )?;
        self.resources
            .extend(endpoint::rendered::<R>(&page, ctx.base_url, &shown));
        self.total += page.total_results;
        self.skip = (self.skip - page.total_results).max(0);
        Ok(())
    }
}
