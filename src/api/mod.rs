//! The HTTP surface: routes, the middleware every response goes through (CORS, apikey, one log
//! line per request), and the JSON answers for unknown routes and wrong methods.

pub mod admin;
pub mod body;
pub mod customer;
pub mod error;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use serde::Serialize;

use crate::sim::Sim;
use crate::store::{self, Store};
use error::ApiError;

/// What every handler can reach.
pub struct AppState {
    pub store: Store,
    pub sim: Arc<Sim>,
    pub limits: Limits,
    pub require_apikey: bool,
    pub apikey: String,
    pub started: Instant,
    /// Requests waiting for (or using) the database right now.
    pub pending: AtomicUsize,
}

/// What one request may ask for (see the `--max-*` options).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_body: usize,
    pub max_text: usize,
    pub transcript_page: i64,
    pub max_pending: usize,
}

/// The longest nickname, subject and pushed URL accepted, in characters.
pub const MAX_NICKNAME: usize = 256;
pub const MAX_SUBJECT: usize = 1024;
pub const MAX_URL: usize = 2048;

pub type State = web::Data<AppState>;

/// Carried in a response's extensions from the handler to the log line: which operation on
/// which chat, and how it ended.
#[derive(Debug, Clone, Default)]
pub struct RequestLog {
    pub operation: Option<String>,
    pub chat: Option<String>,
    pub outcome: Option<String>,
}

impl RequestLog {
    pub fn outcome(outcome: String) -> Self {
        RequestLog { outcome: Some(outcome), ..Default::default() }
    }
}

/// Turns a handler's result into its response, recording the operation and chat for the log.
pub fn respond(
    operation: &str,
    chat: Option<&str>,
    result: Result<HttpResponse, ApiError>,
) -> HttpResponse {
    let mut res = match result {
        Ok(res) => res,
        Err(e) => e.error_response(),
    };
    // Only `log_request` reads the entry: with info lines off, build it for 5xx alone.
    if res.status().as_u16() < 500 && !log::log_enabled!(log::Level::Info) {
        return res;
    }
    let outcome = res.extensions_mut().remove::<RequestLog>().and_then(|l| l.outcome);
    res.extensions_mut().insert(RequestLog {
        operation: Some(operation.to_string()),
        chat: chat.map(str::to_string),
        outcome: Some(outcome.unwrap_or_else(|| "statusCode 0".to_string())),
    });
    res
}

/// A 200 answer with `body` (which carries its own `statusCode: 0`).
pub fn ok<T: Serialize>(body: &T) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(body))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Ack {
    pub status_code: i32,
}

pub const ACK: Ack = Ack { status_code: 0 };

/// Runs store reads on the blocking thread pool, mapping their errors to GWS errors. When more
/// than `--max-pending` requests already wait for the database, answers 503 at once instead of
/// queueing.
pub async fn blocking<T, F>(state: &State, chat_id: &str, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce() -> store::Result<T> + Send + 'static,
{
    let _queued = enter_queue(state)?;
    match web::block(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(ApiError::from_store(e, chat_id)),
        Err(e) => {
            log::error!("a database task failed: {e}");
            Err(ApiError::internal("the emulator failed while handling this request"))
        }
    }
}

/// Awaits a store write (run by the store's writer thread), with the same queue limit and error
/// mapping as `blocking`.
pub async fn writing<T>(
    state: &State,
    chat_id: &str,
    write: impl std::future::Future<Output = store::Result<T>>,
) -> Result<T, ApiError> {
    let _queued = enter_queue(state)?;
    write.await.map_err(|e| ApiError::from_store(e, chat_id))
}

/// Counts a request as waiting for the database until the guard drops; 503 past the limit.
fn enter_queue(state: &State) -> Result<PendingGuard<'_>, ApiError> {
    let waiting = state.pending.fetch_add(1, Ordering::SeqCst);
    let guard = PendingGuard(&state.pending);
    if waiting >= state.limits.max_pending {
        log::warn!("{waiting} requests already wait for the database; answering 503");
        return Err(ApiError::busy());
    }
    Ok(guard)
}

struct PendingGuard<'a>(&'a AtomicUsize);

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A chat id from the path: a UUID in its hyphenated form (any case), normalized to the stored
/// lowercase form. Other spellings (`{…}`, `urn:uuid:…`, no hyphens) are unknown chats.
pub fn chat_id(raw: &str) -> Result<String, ApiError> {
    if raw.len() != 36 {
        return Err(ApiError::chat_not_found(raw));
    }
    uuid::Uuid::try_parse(raw)
        .map(|u| u.hyphenated().to_string())
        .map_err(|_| ApiError::chat_not_found(raw))
}

/// Per-connection state: set once a request asked for `Connection: close`. RFC 9112 §9.6: the
/// server must not process any further request received on that connection (a pipelined one).
#[derive(Default)]
pub struct ClosingConnection(std::cell::Cell<bool>);

/// The value of `index` in the query string: absent, or a whole number >= 0 (400/2 otherwise).
pub fn index_param(req: &HttpRequest) -> Result<Option<i64>, ApiError> {
    let query = query_map(req)?;
    match query.get("index") {
        None => Ok(None),
        Some(v) => v.trim().parse::<i64>().ok().filter(|n| *n >= 0).map(Some).ok_or_else(|| {
            let shown: String = v.chars().take(40).collect();
            ApiError::invalid(format!("index must be a whole number from 0 up, not {shown:?}"))
        }),
    }
}

pub fn query_map(req: &HttpRequest) -> Result<std::collections::HashMap<String, String>, ApiError> {
    web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .map_err(|e| ApiError::invalid(format!("the query string is not valid: {e}")))
}

/// One method on one path, and the handler that answers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    RequestChat,
    ChatOperation,
    GetChat,
    GetTranscript,
    Health,
    ListChats,
    DeleteAllChats,
    ChatDetail,
    AgentAction,
    AgentTranscript,
    OpenApi,
}

impl Endpoint {
    /// The HTTP method, uppercase.
    pub fn method(self) -> &'static str {
        match self {
            Endpoint::RequestChat | Endpoint::ChatOperation | Endpoint::AgentAction => "POST",
            Endpoint::DeleteAllChats => "DELETE",
            Endpoint::GetChat
            | Endpoint::GetTranscript
            | Endpoint::Health
            | Endpoint::ListChats
            | Endpoint::ChatDetail
            | Endpoint::AgentTranscript
            | Endpoint::OpenApi => "GET",
        }
    }

    fn route(self) -> actix_web::Route {
        let method = match self.method() {
            "POST" => web::post(),
            "DELETE" => web::delete(),
            _ => web::get(),
        };
        match self {
            Endpoint::RequestChat => method.to(customer::request_chat),
            Endpoint::ChatOperation => method.to(customer::chat_operation),
            Endpoint::GetChat => method.to(customer::get_chat),
            Endpoint::GetTranscript => method.to(customer::get_transcript),
            Endpoint::Health => method.to(admin::health),
            Endpoint::ListChats => method.to(admin::list_chats),
            Endpoint::DeleteAllChats => method.to(admin::delete_all_chats),
            Endpoint::ChatDetail => method.to(admin::chat_detail),
            Endpoint::AgentAction => method.to(admin::agent_action),
            Endpoint::AgentTranscript => method.to(admin::agent_transcript),
            Endpoint::OpenApi => method.to(admin::openapi),
        }
    }
}

/// A path template (`{id}` for a chat id) and what answers on it. Served with and without a
/// trailing slash.
#[derive(Debug)]
pub struct Route {
    pub path: &'static str,
    pub endpoints: &'static [Endpoint],
}

/// Every route of the customer and admin APIs: `routes` registers exactly these, and the tests
/// check the OpenAPI document against them.
pub const ROUTES: &[Route] = &[
    Route { path: "/api/v2/chats", endpoints: &[Endpoint::RequestChat] },
    Route { path: "/api/v2/chats/{id}", endpoints: &[Endpoint::GetChat, Endpoint::ChatOperation] },
    Route { path: "/api/v2/chats/{id}/messages", endpoints: &[Endpoint::GetTranscript] },
    Route { path: "/__admin/health", endpoints: &[Endpoint::Health] },
    Route { path: "/__admin/chats", endpoints: &[Endpoint::ListChats, Endpoint::DeleteAllChats] },
    Route { path: "/__admin/chats/{id}", endpoints: &[Endpoint::ChatDetail] },
    Route { path: "/__admin/chats/{id}/agent", endpoints: &[Endpoint::AgentAction] },
    Route { path: "/__admin/chats/{id}/messages", endpoints: &[Endpoint::AgentTranscript] },
    Route { path: "/__admin/openapi.json", endpoints: &[Endpoint::OpenApi] },
];

/// Registers `ROUTES`, each with and without a trailing slash; another method on a known path
/// is a 405 naming the allowed ones.
pub fn routes(cfg: &mut web::ServiceConfig) {
    for route in ROUTES {
        let allowed: Vec<&'static str> = route.endpoints.iter().map(|e| e.method()).collect();
        let allowed = allowed.join(" or ");
        let mut resource = web::resource([route.path.to_string(), format!("{}/", route.path)]);
        for endpoint in route.endpoints {
            resource = resource.route(endpoint.route());
        }
        cfg.service(resource.default_service(web::to(move |r: HttpRequest| {
            let allowed = allowed.clone();
            async move { not_allowed(r, &allowed).await }
        })));
    }
}

async fn not_allowed(req: HttpRequest, allowed: &str) -> HttpResponse {
    let mut res = ApiError::method_not_allowed(req.method().as_str(), allowed).error_response();
    let allow = format!("{}, OPTIONS", allowed.replace(" or ", ", "));
    if let Ok(v) = HeaderValue::from_str(&allow) {
        res.headers_mut().insert(header::ALLOW, v);
    }
    res
}

/// Anything no route matched: a GWS 404.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    ApiError::route_not_found(req.method().as_str(), req.path()).error_response()
}

const ALLOW_HEADERS: &str = "apikey, ContactCenterId, Content-Type, X-Requested-With, Accept";

/// CORS for every response (and the preflight), `nosniff`, and the apikey check when it is on.
pub async fn cors_and_key(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if let Some(closing) = req.conn_data::<ClosingConnection>() {
        if closing.0.get() {
            let refused = ApiError::new(
                actix_web::http::StatusCode::BAD_REQUEST,
                error::code::INVALID_PARAMETER,
                "a request after Connection: close on the same connection is not processed",
            );
            let res = respond(req.method().as_str(), None, Err(refused));
            return Ok(req.into_response(res).map_into_boxed_body());
        }
        if req.head().connection_type() == actix_web::http::ConnectionType::Close {
            closing.0.set(true);
        }
    }
    let mut res = if req.method() == Method::OPTIONS {
        let mut res = HttpResponse::NoContent();
        res.insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "GET, POST, DELETE, OPTIONS"))
            .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOW_HEADERS))
            .insert_header((header::ACCESS_CONTROL_MAX_AGE, "86400"));
        let mut res = res.finish();
        res.extensions_mut()
            .insert(RequestLog { operation: Some("preflight".into()), ..Default::default() });
        req.into_response(res).map_into_boxed_body()
    } else if key_refused(&req) {
        let res = respond("apikey", None, Err(ApiError::unauthorized()));
        req.into_response(res).map_into_boxed_body()
    } else {
        gws_error_body(next.call(req).await?.map_into_boxed_body()).await
    };
    let headers = res.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    Ok(res)
}

/// Makes every error a GWS error: a 4xx/5xx that is not already JSON (actix-files refusing a
/// method or a path, a malformed request body) gets a `statusCode`/`statusMessage` body.
async fn gws_error_body(res: ServiceResponse<BoxBody>) -> ServiceResponse<BoxBody> {
    let status = res.status();
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if status.as_u16() < 400 || is_json {
        return res;
    }
    let (req, res) = res.into_parts();
    let allow = res.headers().get(header::ALLOW).cloned();
    let text = match actix_web::body::to_bytes_limited(res.into_body(), 2048).await {
        Ok(Ok(bytes)) => String::from_utf8_lossy(&bytes).trim().to_string(),
        _ => String::new(),
    };
    let reason = status.canonical_reason().unwrap_or("error");
    let message = if text.is_empty() { reason.to_string() } else { format!("{reason}: {text}") };
    let status_code = match status.as_u16() {
        401 => error::code::UNAUTHORIZED,
        404 => error::code::NOT_FOUND,
        500..=599 => error::code::INTERNAL,
        _ => error::code::INVALID_PARAMETER,
    };
    let mut res =
        respond(req.method().as_str(), None, Err(ApiError::new(status, status_code, message)));
    if let Some(allow) = allow {
        res.headers_mut().insert(header::ALLOW, allow);
    }
    ServiceResponse::new(req, res)
}

fn key_refused(req: &ServiceRequest) -> bool {
    let Some(state) = req.app_data::<State>() else {
        return false;
    };
    state.require_apikey
        && req.path().starts_with("/api/")
        && req.headers().get("apikey").and_then(|v| v.to_str().ok()) != Some(state.apikey.as_str())
}

/// One log line per request: method, path, operation, chat id, HTTP status, outcome, time.
pub async fn log_request(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let start = Instant::now();
    let method = req.method().clone();
    let uri = req.uri().clone();
    let res = next.call(req).await?;
    let status = res.status().as_u16();
    // Info is the level of a request's line; a 5xx is logged at error whatever the level.
    if status < 500 && !log::log_enabled!(log::Level::Info) {
        return Ok(res);
    }
    let elapsed = start.elapsed();
    let path: String = uri.path().chars().take(200).collect();
    match res.response().extensions().get::<RequestLog>() {
        Some(RequestLog { operation, chat, outcome }) => {
            let what = match (operation, chat) {
                (Some(op), Some(chat)) => format!("{op} chat={chat}"),
                (Some(op), None) => format!("{op} ({method} {path})"),
                (None, _) => format!("{method} {path}"),
            };
            let outcome = outcome.as_ref().map(|o| format!(" {o}")).unwrap_or_default();
            let level = if status >= 500 { log::Level::Error } else { log::Level::Info };
            log::log!(level, "{what} -> {status}{outcome} ({elapsed:.1?})");
        }
        // Static files of the web client.
        None => log::debug!("{method} {path} -> {status} ({elapsed:.1?})"),
    }
    Ok(res)
}
