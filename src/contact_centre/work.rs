//! The contact centre's pending work, run when it falls due: the bot agent joins, the system
//! participant posts, the bot types and answers, an inactive chat is closed. Each handler
//! returns what becomes of its row: done (deleted) or rescheduled.

use super::{bot, ms, ContactCentre};
use crate::domain::{ChatState, JobKind, MessageType};
use crate::store::{ChatTx, Job, Result, WriteTx, SYSTEM_ID};

/// What a job leaves behind when it ran.
enum After {
    Done,
    /// Due again at this time (`None`: waits for an agent to join).
    Again(Option<i64>),
    /// The chat was closed, and its work with it (this job included).
    Closed,
}

/// Runs `job` in `tx` (if it is still there: Complete may have cancelled it meanwhile).
pub fn run_job(centre: &ContactCentre, tx: &WriteTx, job: &Job) -> Result<()> {
    let chat = tx.chat_at(job.chat_rowid)?;
    let after = if chat.state() == ChatState::Idle {
        After::Done
    } else {
        match job.kind {
            JobKind::AgentJoin => agent_join(centre, &chat)?,
            JobKind::SystemMessage => system_message(centre, &chat)?,
            JobKind::BotTyping => bot_typing(&chat)?,
            JobKind::BotReply => bot_reply(centre, &chat, job.reply_to)?,
            JobKind::IdleTimeout => idle_timeout(centre, &chat)?,
            JobKind::ScenarioStep | JobKind::ScenarioTyped | JobKind::ScenarioWait => {
                let step = job.step.unwrap_or(1).max(1) as usize;
                centre.scenario_work(&chat, job.kind, step)?;
                After::Done
            }
        }
    };
    match after {
        After::Done => chat.cancel_job(job.id),
        After::Again(due) => chat.reschedule(job.id, due),
        After::Closed => Ok(()),
    }
}

fn agent_join(centre: &ContactCentre, chat: &ChatTx) -> Result<After> {
    if chat.present_agent()?.is_none() {
        centre.agent_joins(chat, &centre.agent_nickname)?;
    }
    Ok(After::Done)
}

fn system_message(centre: &ContactCentre, chat: &ChatTx) -> Result<After> {
    let Some(every) = centre.system_message_interval else {
        return Ok(After::Done);
    };
    let text = bot::SYSTEM_MESSAGES[centre.pick(bot::SYSTEM_MESSAGES.len())];
    chat.append(MessageType::Text, SYSTEM_ID, Some(text), None)?;
    // The next tick counts from now: ticks missed while the emulator was down are not
    // back-filled; in a clock advance, it runs once and the next tick counts from where the
    // advance ends.
    let from = chat.horizon().unwrap_or(chat.now()).max(chat.now());
    Ok(After::Again(Some(from + ms(every))))
}

fn bot_typing(chat: &ChatTx) -> Result<After> {
    if let Some(agent) = chat.present_agent()? {
        chat.append(MessageType::TypingStarted, agent, None, None)?;
    }
    Ok(After::Done)
}

fn bot_reply(centre: &ContactCentre, chat: &ChatTx, reply_to: Option<i64>) -> Result<After> {
    let Some(agent) = chat.present_agent()? else {
        // The agent left before answering: the reply waits for the next agent.
        return Ok(After::Again(None));
    };
    let question = match reply_to {
        Some(index) => chat.message_text(index)?,
        None => None,
    };
    let Some(question) = question else {
        return Ok(After::Done);
    };
    chat.append(MessageType::Text, agent, Some(&bot::reply_to(&question)), None)?;
    if centre.bot_typing {
        chat.append(MessageType::TypingStopped, agent, None, None)?;
    }
    Ok(After::Done)
}

fn idle_timeout(centre: &ContactCentre, chat: &ChatTx) -> Result<After> {
    let Some(timeout) = centre.idle_timeout else {
        return Ok(After::Done);
    };
    let deadline = chat.last_customer_activity()? + ms(timeout);
    if deadline > chat.now() {
        return Ok(After::Again(Some(deadline)));
    }
    let text = format!(
        "This chat was closed after {} without activity from the customer.",
        human(timeout)
    );
    chat.append(MessageType::Text, SYSTEM_ID, Some(&text), None)?;
    chat.close()?;
    Ok(After::Closed)
}

/// `30 minutes`, `20 seconds`, `250 ms`.
fn human(d: std::time::Duration) -> String {
    let ms = d.as_millis();
    let plural = |n: u128, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    if ms.is_multiple_of(3_600_000) {
        plural(ms / 3_600_000, "hour")
    } else if ms.is_multiple_of(60_000) {
        plural(ms / 60_000, "minute")
    } else if ms.is_multiple_of(1000) {
        plural(ms / 1000, "second")
    } else {
        format!("{ms} ms")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_read_like_a_person_wrote_them() {
        use std::time::Duration;
        assert_eq!(super::human(Duration::from_secs(1800)), "30 minutes");
        assert_eq!(super::human(Duration::from_secs(3600)), "1 hour");
        assert_eq!(super::human(Duration::from_secs(20)), "20 seconds");
        assert_eq!(super::human(Duration::from_millis(250)), "250 ms");
    }
}
