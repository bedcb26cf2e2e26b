//! Agent scenarios through the admin API: list and show them, add or replace one at run time,
//! delete a run-time one, and switch a running chat to another.

use actix_web::web;
use serde::Serialize;
use serde_json::Value;

use super::customer::scenario;
use super::error::ApiError;
use super::extract::{ChatPath, JsonBody};
use super::{Answer, Done, State};
use crate::contact_centre::scenario::valid_name;
use crate::contact_centre::scenarios::{Listed, Source};
use crate::contact_centre::Scenario;

#[derive(Serialize)]
struct List {
    scenarios: Vec<Listed>,
    /// The scenario of a chat that names none.
    default: String,
}

#[derive(Serialize)]
struct One {
    scenario: Value,
    source: Source,
}

#[derive(Serialize)]
struct Put {
    name: String,
    /// Whether it replaced a run-time scenario of that name.
    replaced: bool,
}

#[derive(Serialize)]
struct Deleted {
    deleted: String,
}

/// `GET /__admin/scenarios`.
pub async fn list(st: State) -> Answer<impl Serialize> {
    let centre = st.store.centre();
    Answer(List { scenarios: centre.scenarios.list(), default: centre.default_scenario.clone() })
}

/// `GET /__admin/scenarios/{name}`.
pub async fn show(st: State, name: web::Path<String>) -> Result<Answer<impl Serialize>, ApiError> {
    let name = name.into_inner();
    let scenarios = &st.store.centre().scenarios;
    match (scenarios.get(&name), scenarios.source(&name)) {
        (Some(s), Some(source)) => Ok(Answer(One { scenario: s.document.clone(), source })),
        _ => Err(unknown(&name)),
    }
}

/// `PUT /__admin/scenarios/{name}` with the scenario as the body: checked, kept in SQLite.
pub async fn put(
    st: State,
    name: web::Path<String>,
    body: JsonBody,
) -> Result<Answer<impl Serialize>, ApiError> {
    let name = name.into_inner();
    if !valid_name(&name) {
        return Err(ApiError::invalid(
            "a scenario name is 1 to 64 letters, digits, '-', '_' or '.'",
        ));
    }
    let document = Value::Object(body.0);
    let scenario = Scenario::parse(&document, Some(&name))
        .map_err(|e| ApiError::invalid(format!("scenario {name:?}: {e}")))?;
    let scenarios = &st.store.centre().scenarios;
    let replaced = scenarios.source(&name) == Some(Source::Runtime);
    st.store.put_scenario(name.clone(), scenario.document.to_string()).await?;
    scenarios.put(scenario);
    Ok(Answer(Put { name, replaced }))
}

/// `DELETE /__admin/scenarios/{name}`: removes a run-time scenario (a shipped one of the same
/// name shows again).
pub async fn delete(
    st: State,
    name: web::Path<String>,
) -> Result<Answer<impl Serialize>, ApiError> {
    let name = name.into_inner();
    let scenarios = &st.store.centre().scenarios;
    match scenarios.source(&name) {
        None => return Err(unknown(&name)),
        Some(Source::BuiltIn | Source::File) => {
            return Err(ApiError::invalid(format!(
                "scenario {name:?} is shipped with the emulator (built in or a file of \
                 --scenarios-dir); only scenarios added with PUT can be deleted"
            )))
        }
        Some(Source::Runtime) => {}
    }
    st.store.delete_scenario(name.clone()).await?;
    scenarios.remove(&name);
    Ok(Answer(Deleted { deleted: name }))
}

/// `POST /__admin/chats/{id}/scenario` with `{"name": …}`: the chat runs that scenario from its
/// first step on.
pub async fn switch(st: State, id: ChatPath, body: JsonBody) -> Result<Answer<Done>, ApiError> {
    let name = body.fields().required_str("name")?;
    let scenario = scenario(&st, &name)?;
    st.store.switch_scenario(&id.0, scenario).await?;
    Ok(Answer::done())
}

fn unknown(name: &str) -> ApiError {
    let shown: String = name.chars().take(64).collect();
    ApiError::new(
        actix_web::http::StatusCode::NOT_FOUND,
        super::error::code::NOT_FOUND,
        format!("no scenario {shown:?}; GET /__admin/scenarios lists them"),
    )
}
