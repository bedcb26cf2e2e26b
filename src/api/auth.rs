//! Who may call what: the `apikey` header on the customer API, when `--require-apikey` is on.
//! The CORS preflight is never refused (browsers send it without custom headers).

use actix_web::dev::ServiceRequest;

use super::error::ApiError;
use super::State;

/// The GWS error for a request that may not go on, if it may not.
pub fn check(req: &ServiceRequest) -> Option<ApiError> {
    let state = req.app_data::<State>()?;
    let key = state.apikey.as_deref()?;
    let refused = req.path().starts_with("/api/")
        && req.headers().get("apikey").and_then(|v| v.to_str().ok()) != Some(key);
    refused.then(ApiError::unauthorized)
}
