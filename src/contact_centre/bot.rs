//! The bot agent: its reply rule, and when its replies (and typing) are scheduled.

use super::ContactCentre;
use crate::domain::JobKind;
use crate::store::{ChatTx, Result};

/// The bot's answer to a customer's text, by the last character of the trimmed text.
pub fn reply_to(text: &str) -> String {
    let trimmed = text.trim();
    match trimmed.chars().last() {
        Some('!') => "Neat.".to_string(),
        Some('?') => "Good question...".to_string(),
        Some('.') => "Ok.".to_string(),
        _ => format!("{trimmed} to you too!"),
    }
}

/// The texts the `system` participant posts every system-message interval, picked at random.
pub const SYSTEM_MESSAGES: &[&str] = &[
    "Thank you for waiting. Your chat is important to us.",
    "This chat is handled by the GWS emulator; no real agent is involved.",
    "You can end this chat at any time.",
];

/// Schedules the bot's answer to customer message `reply_to`: typing (if on) then the reply.
/// Replies keep the order of the questions: none is due before an earlier one.
pub(super) fn schedule_reply(centre: &ContactCentre, chat: &ChatTx, reply_to: i64) -> Result<()> {
    let now = chat.now();
    let delay = centre.reply_delay_ms();
    let previous = chat.latest_due(JobKind::BotReply)?;
    let due = (now + delay).max(previous.unwrap_or(0));
    if centre.bot_typing {
        chat.schedule(JobKind::BotTyping, Some((due - delay / 2).max(now)), Some(reply_to))?;
    }
    chat.schedule(JobKind::BotReply, Some(due), Some(reply_to))
}

/// Schedules the replies that waited for an agent (messages sent while `WaitingForAgent`).
pub(super) fn schedule_waiting_replies(centre: &ContactCentre, chat: &ChatTx) -> Result<()> {
    for (job, reply_to) in chat.waiting_replies()? {
        chat.cancel_job(job)?;
        schedule_reply(centre, chat, reply_to)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_follows_the_last_character_of_the_trimmed_text() {
        assert_eq!(reply_to("Wow!"), "Neat.");
        assert_eq!(reply_to("Are you there?"), "Good question...");
        assert_eq!(reply_to("I see.  "), "Ok.");
        assert_eq!(reply_to("  Hello "), "Hello to you too!");
        assert_eq!(reply_to("Привет 👋"), "Привет 👋 to you too!");
    }
}
