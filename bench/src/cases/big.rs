//! The big database (one chat of 100 000 messages among 1 000 000): does the cost stay flat?

use super::{closed_on_seeded, MANUAL};
use crate::gws;
use crate::runner::Bench;
use crate::seed::DbKind;

// In the big database, the first chat (rowid 1) holds `hot_msgs` messages, the others
// `big_msgs` each.

/// send-many over the chats other than the big one.
pub fn send_many_big(b: &mut Bench, case: &str) -> Result<(), String> {
    let (big_msgs, total) = (b.sizes.big_msgs, b.sizes.big_total());
    closed_on_seeded(
        b,
        case,
        DbKind::Big,
        MANUAL,
        |host, chats| chats.ids[1..].iter().map(|id| gws::send_message(host, id)).collect(),
        |chats| {
            let others = chats.ids.len() - 1;
            format!("{others} chats of {big_msgs} messages; {total} messages in all")
        },
    )
}

/// send-hot into the big chat.
pub fn send_hot_big(b: &mut Bench, case: &str) -> Result<(), String> {
    let total = b.sizes.big_total();
    closed_on_seeded(
        b,
        case,
        DbKind::Big,
        MANUAL,
        |host, chats| vec![gws::send_message(host, &chats.ids[0])],
        |chats| format!("the chat of {} messages; {total} messages in all", chats.last[0]),
    )
}

/// GetTranscript with nothing new on the big chat.
pub fn poll_big(b: &mut Bench, case: &str) -> Result<(), String> {
    let total = b.sizes.big_total();
    closed_on_seeded(
        b,
        case,
        DbKind::Big,
        MANUAL,
        |host, chats| vec![gws::transcript(host, &chats.ids[0])],
        |chats| format!("the chat of {} messages; {total} messages in all", chats.last[0]),
    )
}
