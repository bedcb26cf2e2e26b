//! What the store hands out: the API's JSON shapes, built from the domain types (whose
//! `Serialize` gives the GWS names).

use serde::Serialize;

use crate::domain::{ChatId, ChatState, JobKind, MessageType, Operation, ParticipantType};

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ParticipantView {
    pub nickname: String,
    #[serde(rename = "participantId")]
    pub participant_id: String,
    #[serde(rename = "type")]
    pub kind: ParticipantType,
}

/// A message of a transcript.
#[derive(Debug, Clone, Serialize)]
pub struct MessageView {
    pub index: i64,
    #[serde(rename = "type")]
    pub kind: MessageType,
    pub from: ParticipantView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(rename = "utcTime")]
    pub utc_time: i64,
}

/// The `chat` object of GetChat.
#[derive(Debug, Clone, Serialize)]
pub struct ChatView {
    pub capabilities: &'static [Operation],
    pub id: ChatId,
    pub participants: Vec<ParticipantView>,
    pub state: ChatState,
}

/// A chat in the admin list.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatSummary {
    pub id: ChatId,
    pub nickname: String,
    pub subject: String,
    pub state: ChatState,
    pub created: i64,
    pub message_count: i64,
    pub unread_by_agent: i64,
    /// The scenario the chat runs (`None` for chats from before scenarios).
    pub scenario: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantDetail {
    pub nickname: String,
    pub participant_id: String,
    #[serde(rename = "type")]
    pub kind: ParticipantType,
    pub joined: i64,
    pub left: Option<i64>,
}

/// A row of pending work, as the admin API shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingWork {
    pub kind: &'static str,
    /// `None`: waits for an agent to join.
    pub due: Option<i64>,
    pub reply_to: Option<i64>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadCursors {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<i64>,
}

/// Everything stored about one chat (the admin API).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatDetail {
    pub id: ChatId,
    pub nickname: String,
    pub subject: String,
    /// The stored JSON text, passed through as it is (not parsed and encoded again).
    pub user_data: Option<Box<serde_json::value::RawValue>>,
    pub endpoint: Option<String>,
    pub scenario: Option<String>,
    pub state: ChatState,
    pub capabilities: &'static [Operation],
    pub created: i64,
    pub ended: Option<i64>,
    pub last_customer_activity: i64,
    /// How far this chat's own time is ahead of the emulator's (POST /__admin/chats/{id}/clock).
    pub clock_offset_ms: i64,
    pub participants: Vec<ParticipantDetail>,
    pub messages: Vec<MessageView>,
    pub read_cursors: ReadCursors,
    pub pending_work: Vec<PendingWork>,
}

/// Chats by state, and the pending work, for the health answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    pub chats: ChatsByState,
    pub pending_work: i64,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChatsByState {
    pub waiting_for_agent: i64,
    pub chatting: i64,
    pub idle: i64,
}

impl ChatsByState {
    pub fn add(&mut self, state: ChatState, n: i64) {
        match state {
            ChatState::WaitingForAgent => self.waiting_for_agent += n,
            ChatState::Chatting => self.chatting += n,
            ChatState::Idle => self.idle += n,
        }
    }
}

pub(super) fn job_kind_name(kind: &str) -> &'static str {
    JobKind::parse(kind).map_or("unknown", JobKind::as_str)
}
