//! The emulator's own API under `/__admin` (SPEC.md section 3): health, chats, the agent side.
//! Unauthenticated by design: the emulator binds to loopback by default.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use serde_json::json;

use super::body::{json_object, Fields};
use super::customer::transcript;
use super::error::ApiError;
use super::{
    blocking, chat_id, ok, query_map, respond, writing, State, ACK, MAX_NICKNAME, MAX_URL,
};
use crate::domain::{AgentMode, State as ChatState};
use crate::store::{AgentAction, ChatDetail, ChatSummary, Reader};

const DEFAULT_LIST_LIMIT: i64 = 500;
const MAX_LIST_LIMIT: i64 = 10_000;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ChatList {
    chats: Vec<ChatSummary>,
    status_code: i32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ChatAnswer {
    chat: ChatDetail,
    status_code: i32,
}

/// `GET /__admin/health`.
pub async fn health(state: State) -> HttpResponse {
    let result = async {
        let st = state.clone();
        let h = blocking(&state, "", move || st.store.health()).await?;
        ok(&json!({
            "status": "ok",
            "version": env!("CARGO_PKG_VERSION"),
            "database": state.store.path().display().to_string(),
            "agentMode": match state.sim.agent_mode { AgentMode::Bot => "bot", AgentMode::Manual => "manual" },
            "uptimeMs": state.started.elapsed().as_millis() as u64,
            "chats": h.chats,
            "pendingWork": h.pending_work,
            "statusCode": 0,
        }))
    }
    .await;
    respond("health", None, result)
}

/// `GET /__admin/openapi.json`: the OpenAPI description of the customer and admin APIs.
pub async fn openapi() -> HttpResponse {
    let doc =
        HttpResponse::Ok().content_type("application/json").body(include_str!("openapi.json"));
    respond("openapi", None, Ok(doc))
}

/// `GET /__admin/chats[?state=…&limit=N]`, newest first.
pub async fn list_chats(state: State, req: HttpRequest) -> HttpResponse {
    let result = async {
        let q = query_map(&req)?;
        let filter = match q.get("state").map(String::as_str) {
            None | Some("") => None,
            Some(s) => Some(ChatState::parse(s).ok_or_else(|| {
                ApiError::invalid("state must be WaitingForAgent, Chatting or Idle")
            })?),
        };
        let limit = match q.get("limit") {
            None => DEFAULT_LIST_LIMIT,
            Some(v) => v
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=MAX_LIST_LIMIT).contains(n))
                .ok_or_else(|| {
                    ApiError::invalid(format!("limit must be a number from 1 to {MAX_LIST_LIMIT}"))
                })?,
        };
        let st = state.clone();
        let chats = blocking(&state, "", move || st.store.list_chats(filter, limit)).await?;
        ok(&ChatList { chats, status_code: 0 })
    }
    .await;
    respond("listChats", None, result)
}

/// `DELETE /__admin/chats`: reset while running.
pub async fn delete_all_chats(state: State) -> HttpResponse {
    let result = async {
        let deleted = writing(&state, "", state.store.delete_all_chats()).await?;
        log::warn!("reset: deleted {deleted} chats");
        ok(&json!({ "deleted": deleted, "statusCode": 0 }))
    }
    .await;
    respond("deleteAllChats", None, result)
}

/// `GET /__admin/chats/{id}`: everything stored about one chat.
pub async fn chat_detail(state: State, path: web::Path<String>) -> HttpResponse {
    let raw = path.into_inner();
    let result = async {
        let id = chat_id(&raw)?;
        let st = state.clone();
        let id2 = id.clone();
        let chat = blocking(&state, &id, move || st.store.chat_detail(&id2)).await?;
        ok(&ChatAnswer { chat, status_code: 0 })
    }
    .await;
    respond("chatDetail", Some(&raw), result)
}

/// `GET /__admin/chats/{id}/messages[?index=N]`: the agent side's own unread cursor.
pub async fn agent_transcript(
    state: State,
    path: web::Path<String>,
    req: HttpRequest,
) -> HttpResponse {
    let raw = path.into_inner();
    let result = transcript(&state, &raw, &req, Reader::Agent).await;
    respond("agentTranscript", Some(&raw), result)
}

/// `POST /__admin/chats/{id}/agent` with `{"action": …}`.
pub async fn agent_action(
    state: State,
    path: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    let raw = path.into_inner();
    let mut op = String::from("agent");
    let result = async {
        let id = chat_id(&raw)?;
        let body = json_object(payload, state.limits.max_body).await?;
        let f = Fields(&body);
        let name = f.required_str("action")?;
        let max_text = state.limits.max_text;
        let action = match name.as_str() {
            "join" => AgentAction::Join {
                nickname: f
                    .optional_text("nickname", MAX_NICKNAME)?
                    .filter(|n| !n.trim().is_empty())
                    .unwrap_or_else(|| state.sim.agent_nickname.clone()),
            },
            "message" => AgentAction::Message(f.required_text("text", max_text)?),
            "typingStarted" => AgentAction::TypingStarted,
            "typingStopped" => AgentAction::TypingStopped,
            "pushUrl" => AgentAction::PushUrl(web_url(f.required_text("url", MAX_URL)?)?),
            "notice" => AgentAction::Notice(f.required_text("text", max_text)?),
            "leave" => AgentAction::Leave,
            "complete" => AgentAction::Complete,
            other => {
                let shown: String = other.chars().take(60).collect();
                return Err(ApiError::invalid(format!(
                    "unknown action {shown:?}; use join, message, typingStarted, typingStopped, \
                     pushUrl, notice, leave or complete"
                )));
            }
        };
        op = format!("agent.{}", action.name());
        let write = state.store.agent_action(id.clone(), action, state.sim.clone());
        writing(&state, &id, write).await?;
        ok(&ACK)
    }
    .await;
    respond(&op, Some(&raw), result)
}

/// A URL the agent may push: http or https only, so a widget can render it as a link safely.
fn web_url(url: String) -> Result<String, ApiError> {
    let lower = url.trim().to_ascii_lowercase();
    if (lower.starts_with("https://") || lower.starts_with("http://"))
        && !url.chars().any(char::is_control)
    {
        Ok(url.trim().to_string())
    } else {
        Err(ApiError::invalid("url must be an http:// or https:// address"))
    }
}
