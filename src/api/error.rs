//! One error type for the whole HTTP surface: HTTP status + GWS `statusCode` + `statusMessage`,
//! and the one place where what went wrong below (store errors, unknown chat ids) becomes one.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use super::middleware::Outcome;
use crate::domain::UnknownChat;
use crate::store::StoreError;

/// GWS return values.
pub mod code {
    pub const OK: i32 = 0;
    pub const MISSING_PARAMETER: i32 = 1;
    pub const INVALID_PARAMETER: i32 = 2;
    pub const UNAUTHORIZED: i32 = 3;
    pub const INTERNAL: i32 = 4;
    pub const NOT_FOUND: i32 = 6;
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{} (statusCode {status_code}): {message}", http.as_u16())]
pub struct ApiError {
    pub http: StatusCode,
    pub status_code: i32,
    pub message: String,
}

/// The body of every error.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorBody<'a> {
    status_code: i32,
    status_message: &'a str,
}

impl ApiError {
    pub fn new(http: StatusCode, status_code: i32, message: impl Into<String>) -> Self {
        ApiError { http, status_code, message: message.into() }
    }

    /// 400 / 1: a required parameter is missing or blank, or the body is not a JSON object.
    pub fn missing(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code::MISSING_PARAMETER, message)
    }

    /// 400 / 2: a parameter is not valid, or the operation is not allowed now.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code::INVALID_PARAMETER, message)
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            code::UNAUTHORIZED,
            "the apikey header is missing or wrong; send the emulator's key in the apikey header",
        )
    }

    pub fn admin_unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            code::UNAUTHORIZED,
            "the admin API needs the header Authorization: Bearer <token>, with the token the \
             emulator was started with (--admin-token)",
        )
    }

    pub fn chat_not_found(id: &str) -> Self {
        UnknownChat(id.chars().take(64).collect()).into()
    }

    pub fn route_not_found(method: &str, path: &str) -> Self {
        let shown: String = path.chars().take(200).collect();
        Self::new(
            StatusCode::NOT_FOUND,
            code::NOT_FOUND,
            format!("no such resource: {method} {shown}; the chat API is under /api/v2/chats"),
        )
    }

    pub fn method_not_allowed(method: &str, allowed: &str) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            code::INVALID_PARAMETER,
            format!("method {method} is not allowed here; use {allowed}"),
        )
    }

    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            code::INVALID_PARAMETER,
            format!("the request body is larger than the limit of {limit} bytes (see --max-body)"),
        )
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, code::INTERNAL, message)
    }

    /// 503 / 4: the emulator is not ready (yet, or right now).
    pub fn not_ready(why: &str) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            code::INTERNAL,
            format!("the emulator is not ready: {why}; retry in a moment"),
        )
    }

    pub fn busy() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            code::INTERNAL,
            "the emulator is too busy to answer now; retry in a moment",
        )
    }
}

impl From<UnknownChat> for ApiError {
    fn from(e: UnknownChat) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, code::NOT_FOUND, e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::ChatNotFound(id) => UnknownChat(id.to_string()).into(),
            StoreError::NotAllowed(why) => Self::invalid(why),
            StoreError::Busy(waiting) => {
                log::warn!("{waiting} requests already wait for the database; answering 503");
                Self::busy()
            }
            StoreError::Db(e) if is_busy(&e) => {
                log::warn!("database busy: {e}");
                Self::busy()
            }
            StoreError::Unavailable => {
                Self::not_ready("the emulator's database is being recreated")
            }
            StoreError::Pool(e) => {
                log::warn!("no database connection free: {e}");
                Self::busy()
            }
            StoreError::Db(e) => {
                log::error!("database error: {e}");
                Self::internal("the emulator failed to use its database; see its log (chat.log)")
            }
            StoreError::Task(e) => {
                log::error!("a database task failed: {e}");
                Self::internal("the emulator failed while handling this request; see its log")
            }
            StoreError::Panicked => {
                log::error!("a write operation panicked; it was rolled back");
                Self::internal("the emulator failed while handling this request; see its log")
            }
        }
    }
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy) | Some(rusqlite::ErrorCode::DatabaseLocked)
    )
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.http
    }

    fn error_response(&self) -> HttpResponse {
        let body = ErrorBody { status_code: self.status_code, status_message: &self.message };
        let mut res = HttpResponse::build(self.http).json(body);
        res.extensions_mut()
            .insert(Outcome(format!("statusCode {}: {}", self.status_code, self.message)));
        res
    }
}
