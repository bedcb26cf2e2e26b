//! The GWS customer chat API, `/api/v2/chats`: parse, call the store, answer.

use std::sync::Arc;

use actix_web::{HttpMessage, HttpRequest, HttpResponse, Responder};
use serde::Serialize;
use serde_json::Value;

use super::error::ApiError;
use super::extract::{index_param, ChatPath, JsonBody};
use super::middleware::LogOperation;
use super::{Answer, Done, State, MAX_NICKNAME, MAX_SUBJECT, MAX_URL};
use crate::contact_centre::Scenario;
use crate::domain::{ChatId, Operation, Reader};
use crate::store::{ChatView, CustomerAction, MessageView, NewChat};

/// RequestChat's answer, in the field order of the GWS documentation.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RequestChatAnswer {
    id: ChatId,
    status_code: i32,
    path: String,
}

#[derive(Serialize)]
struct GetChatAnswer {
    chat: ChatView,
}

#[derive(Serialize)]
pub struct Transcript {
    pub messages: Vec<MessageView>,
}

/// `POST /api/v2/chats` with `operationName: RequestChat`.
pub async fn request_chat(
    st: State,
    req: HttpRequest,
    body: JsonBody,
) -> Result<impl Responder, ApiError> {
    let f = body.fields();
    let name = f.required_str("operationName")?;
    match Operation::parse(&name) {
        Some(Operation::RequestChat) => {}
        Some(op) => {
            return Err(ApiError::invalid(format!(
                "{} is posted to /api/v2/chats/{{id}}; only RequestChat is posted here",
                op.as_str()
            )))
        }
        None => return Err(unknown_operation(&name)),
    }
    let new = NewChat {
        nickname: f.required_text("nickname", MAX_NICKNAME)?,
        subject: f.optional_text("subject", MAX_SUBJECT)?.unwrap_or_default(),
        user_data: f.optional_object("userData")?,
        endpoint: f.optional_text("endpoint", MAX_URL)?,
    };
    let scenario = match body.0.get("userData").and_then(|u| u.get("scenario")) {
        None | Some(Value::Null) => st.store.centre().default_scenario(),
        Some(Value::String(name)) => scenario(&st, name)?,
        Some(_) => {
            return Err(ApiError::invalid("userData.scenario must be a string naming a scenario"))
        }
    };
    let id = st.store.request_chat(new, scenario).await?;
    req.extensions_mut().insert(LogOperation::chat(id.clone()));
    let path = format!("/api/v2/chats/{id}");
    Ok(HttpResponse::Ok().json(RequestChatAnswer { id, status_code: 0, path }))
}

/// `POST /api/v2/chats/{id}`: SendMessage, the typing notifications, Complete.
pub async fn chat_operation(
    st: State,
    req: HttpRequest,
    id: ChatPath,
    body: JsonBody,
) -> Result<Answer<Done>, ApiError> {
    let f = body.fields();
    let name = f.required_str("operationName")?;
    let action = match Operation::parse(&name) {
        Some(Operation::SendMessage) => {
            CustomerAction::SendMessage(f.required_text("text", st.limits.max_text)?)
        }
        Some(Operation::SendStartTypingNotification) => CustomerAction::StartTyping,
        Some(Operation::SendStopTypingNotification) => CustomerAction::StopTyping,
        Some(Operation::Complete) => CustomerAction::Complete,
        Some(Operation::RequestChat) => {
            return Err(ApiError::invalid(
                "RequestChat is posted to /api/v2/chats, not to an existing chat",
            ))
        }
        None => return Err(unknown_operation(&name)),
    };
    req.extensions_mut().insert(LogOperation::named(action.operation().as_str()));
    st.store.customer_action(&id.0, action).await?;
    Ok(Answer::done())
}

/// `GET /api/v2/chats/{id}`.
pub async fn get_chat(st: State, id: ChatPath) -> Result<Answer<impl Serialize>, ApiError> {
    Ok(Answer(GetChatAnswer { chat: st.store.get_chat(&id.0).await? }))
}

/// `GET /api/v2/chats/{id}/messages[?index=N]`.
pub async fn get_transcript(
    st: State,
    id: ChatPath,
    req: HttpRequest,
) -> Result<Answer<Transcript>, ApiError> {
    transcript(&st, &id.0, &req, Reader::Customer).await.map(Answer)
}

/// A transcript read for `reader`, shared by the customer API and the admin agent view: the
/// unread messages (moving the cursor), or with `index` every message from there on.
pub async fn transcript(
    st: &State,
    id: &ChatId,
    req: &HttpRequest,
    reader: Reader,
) -> Result<Transcript, ApiError> {
    let page = st.limits.transcript_page;
    let messages = match index_param(req)? {
        None => st.store.poll(id, reader, page).await?,
        Some(from) => st.store.transcript_from(id, reader, from, page).await?,
    };
    Ok(Transcript { messages })
}

/// The scenario `name`, or 400/2 naming the known ones.
pub fn scenario(st: &State, name: &str) -> Result<Arc<Scenario>, ApiError> {
    let scenarios = &st.store.centre().scenarios;
    scenarios.get(name).ok_or_else(|| {
        let shown: String = name.chars().take(64).collect();
        ApiError::invalid(format!("unknown scenario {shown:?}; known: {}", scenarios.names()))
    })
}

fn unknown_operation(name: &str) -> ApiError {
    let shown: String = name.chars().take(60).collect();
    ApiError::invalid(format!(
        "unknown operationName {shown:?}; use RequestChat, SendMessage, SendStartTypingNotification, \
         SendStopTypingNotification or Complete"
    ))
}
