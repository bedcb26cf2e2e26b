//! Writes over the small database: messages and new chats.

use super::{closed_on_seeded, MANUAL};
use crate::gws;
use crate::runner::Bench;
use crate::seed::DbKind;

/// SendMessage spread over every chat (manual agent: no bot work follows).
pub fn send_many(b: &mut Bench, case: &str) -> Result<(), String> {
    closed_on_seeded(
        b,
        case,
        DbKind::Small,
        MANUAL,
        |host, chats| chats.ids.iter().map(|id| gws::send_message(host, id)).collect(),
        |chats| format!("{} chats of 5 messages", chats.ids.len()),
    )
}

/// SendMessage, every connection into the first chat.
pub fn send_hot(b: &mut Bench, case: &str) -> Result<(), String> {
    closed_on_seeded(
        b,
        case,
        DbKind::Small,
        MANUAL,
        |host, chats| vec![gws::send_message(host, &chats.ids[0])],
        |_| "one chat".to_string(),
    )
}

/// RequestChat in bot mode, the agent's join an hour away so no job runs.
pub fn request_chat(b: &mut Bench, case: &str) -> Result<(), String> {
    closed_on_seeded(
        b,
        case,
        DbKind::Small,
        &["--agent-join-delay", "1h"],
        |host, _| vec![gws::request_chat(host)],
        |chats| format!("{} chats in the database before", chats.ids.len()),
    )
}
