//! Reads over the small database: what widgets and agents ask most.

use super::{closed_on_seeded, MANUAL};
use crate::gws;
use crate::runner::Bench;
use crate::seed::DbKind;

/// GetTranscript with nothing new, spread over every chat.
pub fn empty_poll(b: &mut Bench, case: &str) -> Result<(), String> {
    closed_on_seeded(
        b,
        case,
        DbKind::Small,
        MANUAL,
        |host, chats| chats.ids.iter().map(|id| gws::transcript(host, id)).collect(),
        |chats| format!("{} chats of 5 messages", chats.ids.len()),
    )
}

/// GetChat, spread over every chat.
pub fn get_chat(b: &mut Bench, case: &str) -> Result<(), String> {
    closed_on_seeded(
        b,
        case,
        DbKind::Small,
        MANUAL,
        |host, chats| chats.ids.iter().map(|id| gws::chat(host, id)).collect(),
        |chats| format!("{} chats of 5 messages", chats.ids.len()),
    )
}
