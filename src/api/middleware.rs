//! What every response goes through, outermost first: one log line is written (`log_request`);
//! a request pipelined after `Connection: close` is refused, the preflight is answered, the CORS
//! headers and `nosniff` are added and every error gets a GWS body (`http_rules`); the customer
//! API's faults and journal (`traffic.rs`); and `auth.rs` is asked whether the request may go on
//! (`auth`).

use std::borrow::Cow;
use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse, ResponseError};

use super::error::{code, ApiError};
use super::{auth, endpoint_of};
use crate::domain::ChatId;

const ALLOW_HEADERS: &str =
    "apikey, ContactCenterId, Content-Type, X-Requested-With, Accept, Authorization, Last-Event-ID";

/// Set in a request's extensions by a handler that knows more than its route: which operation
/// it was (SendMessage rather than a POST to a chat) or which chat (RequestChat's new one).
#[derive(Debug, Clone, Default)]
pub struct LogOperation {
    name: Option<Cow<'static, str>>,
    chat: Option<ChatId>,
}

impl LogOperation {
    pub fn named(name: &'static str) -> Self {
        LogOperation { name: Some(Cow::Borrowed(name)), chat: None }
    }

    pub fn agent(action: &str) -> Self {
        LogOperation { name: Some(Cow::Owned(format!("agent.{action}"))), chat: None }
    }

    pub fn chat(id: ChatId) -> Self {
        LogOperation { name: None, chat: Some(id) }
    }
}

/// Set in a response's extensions by `ApiError`: how the request ended, for the log line.
#[derive(Debug, Clone)]
pub struct Outcome(pub String);

/// Per-connection state: set once a request asked for `Connection: close`. RFC 9112 §9.6: the
/// server must not process any further request received on that connection (a pipelined one).
#[derive(Default)]
pub struct ClosingConnection(std::cell::Cell<bool>);

/// CORS for every response (and the preflight), `nosniff`, the checks of `auth.rs`, and GWS
/// bodies for every error.
pub async fn http_rules(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut res = if let Some(refused) = pipelined_after_close(&req) {
        req.into_response(refused.error_response()).map_into_boxed_body()
    } else if req.method() == Method::OPTIONS {
        req.extensions_mut().insert(LogOperation::named("preflight"));
        let res = HttpResponse::NoContent()
            .insert_header((
                header::ACCESS_CONTROL_ALLOW_METHODS,
                "GET, POST, PUT, DELETE, OPTIONS",
            ))
            .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOW_HEADERS))
            .insert_header((header::ACCESS_CONTROL_MAX_AGE, "86400"))
            .finish();
        req.into_response(res).map_into_boxed_body()
    } else {
        gws_error_body(next.call(req).await?.map_into_boxed_body()).await
    };
    let headers = res.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    Ok(res)
}

fn pipelined_after_close(req: &ServiceRequest) -> Option<ApiError> {
    let closing = req.conn_data::<ClosingConnection>()?;
    if closing.0.get() {
        return Some(ApiError::new(
            StatusCode::BAD_REQUEST,
            code::INVALID_PARAMETER,
            "a request after Connection: close on the same connection is not processed",
        ));
    }
    if req.head().connection_type() == actix_web::http::ConnectionType::Close {
        closing.0.set(true);
    }
    None
}

/// Refuses what `auth.rs` says may not go on (inside the journal, so refusals are recorded).
pub async fn auth(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if let Some(refused) = auth::check(&req) {
        req.extensions_mut().insert(LogOperation::named("auth"));
        return Ok(req.into_response(refused.error_response()).map_into_boxed_body());
    }
    Ok(next.call(req).await?.map_into_boxed_body())
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
        401 => code::UNAUTHORIZED,
        404 => code::NOT_FOUND,
        500..=599 => code::INTERNAL,
        _ => code::INVALID_PARAMETER,
    };
    let mut res = ApiError::new(status, status_code, message).error_response();
    if let Some(allow) = allow {
        res.headers_mut().insert(header::ALLOW, allow);
    }
    ServiceResponse::new(req, res)
}

/// One log line per request: operation, chat id, HTTP status, outcome, time taken.
pub async fn log_request(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let start = Instant::now();
    let res = next.call(req).await?;
    let status = res.status().as_u16();
    // Info is the level of a request's line; a 5xx is logged at error whatever the level.
    if status < 500 && !log::log_enabled!(log::Level::Info) {
        return Ok(res);
    }
    let elapsed = start.elapsed();
    let request = res.request();
    let method = request.method().as_str();
    let path: String = request.path().chars().take(200).collect();
    let endpoint = request.match_pattern().and_then(|p| endpoint_of(&p, method));
    let logged = request.extensions().get::<LogOperation>().cloned().unwrap_or_default();
    let operation = logged.name.or_else(|| endpoint.map(|e| Cow::Borrowed(e.name())));
    let chat = logged.chat.map(|c| c.to_string()).or_else(|| {
        endpoint
            .and_then(|_| request.match_info().get("id").map(|id| id.chars().take(64).collect()))
    });
    let outcome = match res.response().extensions().get::<Outcome>() {
        Some(Outcome(o)) => Some(o.clone()),
        None if endpoint.is_some() => Some("statusCode 0".to_string()),
        None => None,
    };
    if operation.is_none() && outcome.is_none() {
        // The web client's static files.
        log::debug!("{method} {path} -> {status} ({elapsed:.1?})");
        return Ok(res);
    }
    let what = match (operation, chat) {
        (Some(op), Some(chat)) => format!("{op} chat={chat}"),
        (Some(op), None) => format!("{op} ({method} {path})"),
        (None, _) => format!("{method} {path}"),
    };
    let outcome = outcome.map(|o| format!(" {o}")).unwrap_or_default();
    let level = if status >= 500 { log::Level::Error } else { log::Level::Info };
    log::log!(level, "{what} -> {status}{outcome} ({elapsed:.1?})");
    Ok(res)
}
