//! Fault rules through the admin API: add one, list them with how often each fired, delete one
//! or all. The rules apply to the customer API only (`traffic.rs`).

use actix_web::web;
use serde::Serialize;

use super::error::ApiError;
use super::extract::JsonBody;
use super::{Answer, State};
use crate::faults::Rule;

#[derive(Serialize)]
struct Added {
    id: String,
}

#[derive(Serialize)]
struct List {
    faults: Vec<Rule>,
}

#[derive(Serialize)]
struct Deleted {
    deleted: usize,
}

/// `POST /__admin/faults` with `{"match": {…}, "fault": {…}, "times": n, "probability": p}`.
pub async fn add(st: State, body: JsonBody) -> Result<Answer<impl Serialize>, ApiError> {
    let rule = Rule::parse(&body.0).map_err(ApiError::invalid)?;
    Ok(Answer(Added { id: st.faults.add(rule) }))
}

/// `GET /__admin/faults`.
pub async fn list(st: State) -> Answer<impl Serialize> {
    Answer(List { faults: st.faults.list() })
}

/// `DELETE /__admin/faults`.
pub async fn clear(st: State) -> Answer<impl Serialize> {
    Answer(Deleted { deleted: st.faults.clear() })
}

/// `DELETE /__admin/faults/{id}`.
pub async fn delete(st: State, id: web::Path<String>) -> Result<Answer<impl Serialize>, ApiError> {
    let id = id.into_inner();
    if st.faults.remove(&id) {
        Ok(Answer(Deleted { deleted: 1 }))
    } else {
        let shown: String = id.chars().take(40).collect();
        Err(ApiError::new(
            actix_web::http::StatusCode::NOT_FOUND,
            super::error::code::NOT_FOUND,
            format!("no fault rule {shown:?}; GET /__admin/faults lists them"),
        ))
    }
}
