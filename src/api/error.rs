//! One error type for the whole HTTP surface: HTTP status + GWS `statusCode` + `statusMessage`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use super::RequestLog;
use crate::store::StoreError;

/// GWS return values (SPEC.md "Errors").
pub mod code {
    pub const OK: i32 = 0;
    pub const MISSING_PARAMETER: i32 = 1;
    pub const INVALID_PARAMETER: i32 = 2;
    pub const UNAUTHORIZED: i32 = 3;
    pub const INTERNAL: i32 = 4;
    pub const NOT_FOUND: i32 = 6;
}

#[derive(Debug, Clone)]
pub struct ApiError {
    pub http: StatusCode,
    pub status_code: i32,
    pub message: String,
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

    pub fn chat_not_found(id: &str) -> Self {
        let shown: String = id.chars().take(64).collect();
        Self::new(
            StatusCode::NOT_FOUND,
            code::NOT_FOUND,
            format!("chat {shown:?} not found; use the id returned by RequestChat"),
        )
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

    pub fn busy() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            code::INTERNAL,
            "the emulator is too busy to answer now; retry in a moment",
        )
    }

    pub fn from_store(e: StoreError, chat_id: &str) -> Self {
        match e {
            StoreError::ChatNotFound => Self::chat_not_found(chat_id),
            StoreError::NotAllowed(why) => Self::invalid(why),
            StoreError::Db(e) if is_busy(&e) => {
                log::warn!("database busy: {e}");
                Self::busy()
            }
            StoreError::Unavailable => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                code::INTERNAL,
                "the emulator's database is being recreated; retry in a moment",
            ),
            StoreError::Pool(e) => {
                log::warn!("no database connection free: {e}");
                Self::busy()
            }
            StoreError::Db(e) => {
                log::error!("database error: {e}");
                Self::internal("the emulator failed to use its database; see logs/chat.log")
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

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (statusCode {}): {}", self.http.as_u16(), self.status_code, self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.http
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.http).json(json!({
            "statusCode": self.status_code,
            "statusMessage": self.message,
        }));
        let outcome = format!("statusCode {}: {}", self.status_code, self.message);
        res.extensions_mut().insert(RequestLog::outcome(outcome));
        res
    }
}
