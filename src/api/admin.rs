//! The emulator's own API under `/__admin`: health, chats, and acting as the agent.

use std::time::Duration;

use actix_web::{HttpMessage, HttpRequest, HttpResponse};
use serde::Serialize;

use super::error::ApiError;
use super::extract::{query_map, ChatPath, JsonBody};
use super::middleware::LogOperation;
use super::{Answer, Done, State, MAX_NICKNAME, MAX_URL};
use crate::clock::ClockView;
use crate::domain::ChatState;
use crate::store::{AgentAction, ChatDetail, ChatSummary, ChatsByState};

const DEFAULT_LIST_LIMIT: i64 = 500;
const MAX_LIST_LIMIT: i64 = 10_000;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Health {
    status: &'static str,
    version: &'static str,
    database: String,
    agent_mode: &'static str,
    /// The scenario of a chat that names none.
    scenario: String,
    uptime_ms: u64,
    chats: ChatsByState,
    pending_work: i64,
    /// How long ended chats are kept, in ms (`null`: forever).
    retention_ms: Option<u64>,
    clock: ClockView,
}

#[derive(Serialize)]
struct ChatList {
    chats: Vec<ChatSummary>,
}

#[derive(Serialize)]
struct OneChat {
    chat: ChatDetail,
}

#[derive(Serialize)]
struct Deleted {
    deleted: usize,
}

/// `GET /__admin/health`: 200 with `"status":"ok"` once the database is open and the scheduler
/// runs; 503 (a GWS body saying why) otherwise, so CI and container checks can wait on it.
pub async fn health(st: State) -> Result<Answer<impl Serialize>, ApiError> {
    let window = (st.settings.tick * 50).max(Duration::from_secs(10));
    if !st.scheduler.is_running(window) {
        return Err(ApiError::not_ready("the scheduler is not running"));
    }
    let counts = st.store.counts().await?;
    Ok(Answer(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
        database: st.store.path().display().to_string(),
        agent_mode: st.store.centre().agent_mode.as_str(),
        scenario: st.store.centre().default_scenario.clone(),
        uptime_ms: st.started.elapsed().as_millis() as u64,
        chats: counts.chats,
        pending_work: counts.pending_work,
        retention_ms: st.settings.retention.map(|d| d.as_millis() as u64),
        clock: st.store.clock().view(),
    }))
}

/// `GET /__admin/openapi.json`: the OpenAPI description of the customer and admin APIs.
pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(include_str!("openapi.json"))
}

/// `GET /__admin/chats[?state=…&limit=N]`, newest first.
pub async fn list_chats(st: State, req: HttpRequest) -> Result<Answer<impl Serialize>, ApiError> {
    let q = query_map(&req)?;
    let filter =
        match q.get("state").map(String::as_str) {
            None | Some("") => None,
            Some(s) => Some(ChatState::parse(s).ok_or_else(|| {
                ApiError::invalid("state must be WaitingForAgent, Chatting or Idle")
            })?),
        };
    let limit = match q.get("limit") {
        None => DEFAULT_LIST_LIMIT,
        Some(v) => {
            v.parse::<i64>().ok().filter(|n| (1..=MAX_LIST_LIMIT).contains(n)).ok_or_else(|| {
                ApiError::invalid(format!("limit must be a number from 1 to {MAX_LIST_LIMIT}"))
            })?
        }
    };
    Ok(Answer(ChatList { chats: st.store.list_chats(filter, limit).await? }))
}

/// `DELETE /__admin/chats`: reset while running.
pub async fn delete_all_chats(st: State) -> Result<Answer<impl Serialize>, ApiError> {
    let deleted = st.store.delete_all_chats().await?;
    log::warn!("reset: deleted {deleted} chats");
    Ok(Answer(Deleted { deleted }))
}

/// `GET /__admin/chats/{id}`: everything stored about one chat.
pub async fn chat_detail(st: State, id: ChatPath) -> Result<Answer<impl Serialize>, ApiError> {
    Ok(Answer(OneChat { chat: st.store.chat_detail(&id.0).await? }))
}

/// `POST /__admin/chats/{id}/agent` with `{"action": …}`.
pub async fn agent_action(
    st: State,
    req: HttpRequest,
    id: ChatPath,
    body: JsonBody,
) -> Result<Answer<Done>, ApiError> {
    let f = body.fields();
    let name = f.required_str("action")?;
    let max_text = st.limits.max_text;
    let action = match name.as_str() {
        "join" => AgentAction::Join {
            nickname: f
                .optional_text("nickname", MAX_NICKNAME)?
                .filter(|n| !n.trim().is_empty())
                .unwrap_or_else(|| st.store.centre().agent_nickname.clone()),
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
    req.extensions_mut().insert(LogOperation::agent(action.name()));
    st.store.agent_action(&id.0, action).await?;
    Ok(Answer::done())
}

/// A URL the agent may push: http or https only, so a widget can render it as a link safely.
pub fn web_url(url: String) -> Result<String, ApiError> {
    let lower = url.trim().to_ascii_lowercase();
    if (lower.starts_with("https://") || lower.starts_with("http://"))
        && !url.chars().any(char::is_control)
    {
        Ok(url.trim().to_string())
    } else {
        Err(ApiError::invalid("url must be an http:// or https:// address"))
    }
}
