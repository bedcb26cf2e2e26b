//! The request journal through the admin API: what the customer API was asked and answered,
//! newest first, filtered by chat, operation or HTTP status; and emptying it.

use actix_web::HttpRequest;
use serde::Serialize;

use super::error::ApiError;
use super::extract::query_map;
use super::{Answer, State};
use crate::journal::Entry;
use crate::store::RequestFilter;

const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 10_000;

#[derive(Serialize)]
struct List {
    requests: Vec<Entry>,
}

#[derive(Serialize)]
struct Deleted {
    deleted: usize,
}

/// `GET /__admin/requests[?chat=&operation=&status=&limit=]`.
pub async fn list(st: State, req: HttpRequest) -> Result<Answer<impl Serialize>, ApiError> {
    let q = query_map(&req)?;
    let nonblank = |k: &str| q.get(k).filter(|v| !v.is_empty()).cloned();
    let http_status =
        match nonblank("status") {
            None => None,
            Some(v) => Some(v.parse::<u16>().ok().filter(|s| (100..=599).contains(s)).ok_or_else(
                || ApiError::invalid("status must be an HTTP status such as 200 or 503"),
            )?),
        };
    let limit = match nonblank("limit") {
        None => DEFAULT_LIMIT,
        Some(v) => {
            v.parse::<i64>().ok().filter(|n| (1..=MAX_LIMIT).contains(n)).ok_or_else(|| {
                ApiError::invalid(format!("limit must be a number from 1 to {MAX_LIMIT}"))
            })?
        }
    };
    let chat = nonblank("chat")
        .map(|c| crate::domain::ChatId::parse(&c).map(|id| id.to_string()).unwrap_or(c));
    // What is queued is written first, so the answer is up to date.
    st.store.flush_journal(&st.journal).await?;
    let filter = RequestFilter { chat, operation: nonblank("operation"), http_status, limit };
    Ok(Answer(List { requests: st.store.requests(filter).await? }))
}

/// `DELETE /__admin/requests`.
pub async fn clear(st: State) -> Result<Answer<impl Serialize>, ApiError> {
    // After a write of the queue under way, so none of it lands after the clear.
    let _no_write = st.journal.flushing().lock().await;
    st.journal.take();
    Ok(Answer(Deleted { deleted: st.store.clear_requests().await? }))
}
