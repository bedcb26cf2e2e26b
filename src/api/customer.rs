//! The customer chat API, `/api/v2/chats` (SPEC.md section 1).

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;

use super::body::{json_object, Fields};
use super::error::ApiError;
use super::{
    blocking, chat_id, index_param, ok, respond, writing, State, ACK, MAX_NICKNAME, MAX_SUBJECT,
    MAX_URL,
};
use crate::domain::Operation;
use crate::store::{ChatView, CustomerAction, MessageView, NewChat, Reader};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RequestChatAnswer {
    id: String,
    status_code: i32,
    path: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GetChatAnswer {
    chat: ChatView,
    status_code: i32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TranscriptAnswer {
    pub messages: Vec<MessageView>,
    pub status_code: i32,
}

/// `POST /api/v2/chats` with `operationName: RequestChat`.
pub async fn request_chat(state: State, payload: web::Payload) -> HttpResponse {
    let mut new_id = None;
    let result = async {
        let body = json_object(payload, state.limits.max_body).await?;
        let f = Fields(&body);
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
        let id = writing(&state, "", state.store.request_chat(new, state.sim.clone())).await?;
        new_id = Some(id.clone());
        ok(&RequestChatAnswer { path: format!("/api/v2/chats/{id}"), id, status_code: 0 })
    }
    .await;
    respond("RequestChat", new_id.as_deref(), result)
}

/// `POST /api/v2/chats/{id}`: SendMessage, the typing notifications, Complete.
pub async fn chat_operation(
    state: State,
    path: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    let raw = path.into_inner();
    let mut op_name = "POST";
    let result = async {
        let id = chat_id(&raw)?;
        let body = json_object(payload, state.limits.max_body).await?;
        let f = Fields(&body);
        let name = f.required_str("operationName")?;
        let action = match Operation::parse(&name) {
            Some(Operation::SendMessage) => {
                CustomerAction::SendMessage(f.required_text("text", state.limits.max_text)?)
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
        op_name = action.operation().as_str();
        let write = state.store.customer_action(id.clone(), action, state.sim.clone());
        writing(&state, &id, write).await?;
        ok(&ACK)
    }
    .await;
    respond(op_name, Some(&raw), result)
}

/// `GET /api/v2/chats/{id}`.
pub async fn get_chat(state: State, path: web::Path<String>) -> HttpResponse {
    let raw = path.into_inner();
    let result = async {
        let id = chat_id(&raw)?;
        // The read cache answers most GetChats without a trip to the blocking pool.
        let chat = match state.store.cached_chat(&id) {
            Some(chat) => chat,
            None => {
                let st = state.clone();
                let id2 = id.clone();
                blocking(&state, &id, move || st.store.get_chat(&id2)).await?
            }
        };
        ok(&GetChatAnswer { chat, status_code: 0 })
    }
    .await;
    respond("GetChat", Some(&raw), result)
}

/// `GET /api/v2/chats/{id}/messages[?index=N]`.
pub async fn get_transcript(
    state: State,
    path: web::Path<String>,
    req: HttpRequest,
) -> HttpResponse {
    let raw = path.into_inner();
    let result = transcript(&state, &raw, &req, Reader::Customer).await;
    respond("GetTranscript", Some(&raw), result)
}

/// A transcript read for `reader`, shared by the customer API and the admin agent view.
/// The reads run on the blocking pool; only moving a cursor goes through the writer.
pub async fn transcript(
    state: &State,
    raw: &str,
    req: &HttpRequest,
    reader: Reader,
) -> Result<HttpResponse, ApiError> {
    let id = chat_id(raw)?;
    let from = index_param(req)?;
    let page = state.limits.transcript_page;
    let st = state.clone();
    let id2 = id.clone();
    let messages = match from {
        None => {
            // The common poll finds nothing new: the read cache usually knows without a trip to
            // the database; when it does not, a read finds out (and fills it).
            let unread = match state.store.cached_unread(&id, reader) {
                Some(unread) => unread,
                None => blocking(state, &id, move || st.store.has_unread(&id2, reader)).await?,
            };
            if unread {
                writing(state, &id, state.store.take_unread(id.clone(), reader, page)).await?
            } else {
                Vec::new()
            }
        }
        Some(n) if state.store.cached_last_index(&id).is_some_and(|last| n.max(1) > last) => {
            Vec::new()
        }
        Some(n) => {
            let (messages, behind) =
                blocking(state, &id, move || st.store.messages_from(&id2, reader, n, page)).await?;
            if let (true, Some(last)) = (behind, messages.last()) {
                writing(state, &id, state.store.advance_cursor(id.clone(), reader, last.index))
                    .await?;
            }
            messages
        }
    };
    ok(&TranscriptAnswer { messages, status_code: 0 })
}

fn unknown_operation(name: &str) -> ApiError {
    let shown: String = name.chars().take(60).collect();
    ApiError::invalid(format!(
        "unknown operationName {shown:?}; use RequestChat, SendMessage, SendStartTypingNotification, \
         SendStopTypingNotification or Complete"
    ))
}
