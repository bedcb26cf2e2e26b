//! Who may call what: the `apikey` header on the customer API when `--require-apikey` is on, and
//! `Authorization: Bearer <token>` on every admin route when `--admin-token` is set. The CORS
//! preflight is never refused (browsers send it without credentials), and the web client's
//! static files are open: the console asks for the token and sends it itself.

use actix_web::dev::ServiceRequest;
use actix_web::http::header;

use super::error::ApiError;
use super::State;

/// The GWS error for a request that may not go on, if it may not.
pub fn check(req: &ServiceRequest) -> Option<ApiError> {
    let state = req.app_data::<State>()?;
    let path = req.path();
    if path.starts_with("/api/") {
        let key = state.apikey.as_deref()?;
        let given = req.headers().get("apikey").and_then(|v| v.to_str().ok());
        return (given != Some(key)).then(ApiError::unauthorized);
    }
    if path == "/__admin" || path.starts_with("/__admin/") {
        let token = state.admin_token.as_deref()?;
        return (bearer(req) != Some(token)).then(ApiError::admin_unauthorized);
    }
    None
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer(req: &ServiceRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}
