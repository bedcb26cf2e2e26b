//! The contact centre's pending work: rows of `jobs` with a due time. The scheduler asks for the
//! due ones (an index range scan on `due_at`, so the cost follows the work due, not the number
//! of chats) and runs each in its own transaction, which also deletes or reschedules it: a job
//! runs exactly once, and work that fell due while the emulator was down runs when it starts.

use std::sync::Arc;

use rusqlite::{params, Connection, OptionalExtension};

use super::chats::{
    append, append_event, chat_state, close_chat, join_agent, present_agent, SYSTEM_ID,
};
use super::{Result, Store, StoreError};
use crate::domain::{bot_reply, MessageType, State, SYSTEM_MESSAGES};
use crate::sim::{ms, Sim};

impl Store {
    /// Ids of up to `limit` jobs due at `now`, oldest due first.
    pub fn due_jobs(&self, now: i64, limit: i64) -> Result<Vec<i64>> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT id FROM jobs WHERE due_at <= ?1 ORDER BY due_at, id LIMIT ?2",
        )?;
        let ids = stmt.query_map(params![now, limit], |r| r.get(0))?;
        Ok(ids.collect::<rusqlite::Result<_>>()?)
    }

    /// Runs the jobs `ids`, all queued to the writer at once (so they share its transactions),
    /// and returns each one's result once it committed.
    pub fn run_jobs(&self, ids: &[i64], now: i64, sim: &Arc<Sim>) -> Vec<Result<()>> {
        let pending: Vec<_> = ids
            .iter()
            .map(|&id| {
                let sim = sim.clone();
                self.submit(move |tx| run_job_op(tx, id, now, &sim))
            })
            .collect();
        pending
            .into_iter()
            .map(|rx| rx.blocking_recv().unwrap_or(Err(StoreError::Unavailable)))
            .collect()
    }
}

/// Runs job `id` (if it is still there: Complete may have cancelled it meanwhile).
fn run_job_op(tx: &Connection, id: i64, now: i64, sim: &Sim) -> Result<()> {
    let job: Option<(i64, String, Option<i64>)> = tx
        .prepare_cached(
            "SELECT chat_rowid, kind, reply_to FROM jobs WHERE id = ?1 AND due_at <= ?2",
        )?
        .query_row(params![id, now], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    let Some((chat, kind, reply_to)) = job else {
        return Ok(());
    };
    let keep = if chat_state(tx, chat)? == State::Idle {
        false
    } else {
        match kind.as_str() {
            "agent_join" => agent_join(tx, chat, now, sim)?,
            "system_message" => system_message(tx, id, chat, now, sim)?,
            "bot_typing" => bot_typing(tx, chat, now)?,
            "bot_reply" => self::bot_reply_job(tx, id, chat, reply_to, now, sim)?,
            "idle_timeout" => idle_timeout(tx, id, chat, now, sim)?,
            other => {
                log::warn!("dropping job {id} of unknown kind {other}");
                false
            }
        }
    };
    if !keep {
        tx.prepare_cached("DELETE FROM jobs WHERE id = ?1")?.execute([id])?;
    }
    Ok(())
}

/// Each job returns whether its row stays (it rescheduled itself) or is done.
fn agent_join(conn: &Connection, chat: i64, now: i64, sim: &Sim) -> Result<bool> {
    if present_agent(conn, chat)?.is_none() {
        join_agent(conn, chat, &sim.agent_nickname, now, sim)?;
    }
    Ok(false)
}

fn system_message(conn: &Connection, id: i64, chat: i64, now: i64, sim: &Sim) -> Result<bool> {
    let Some(every) = sim.system_message_interval else {
        return Ok(false);
    };
    let text = SYSTEM_MESSAGES[sim.pick(SYSTEM_MESSAGES.len())];
    append(conn, chat, MessageType::Text, SYSTEM_ID, Some(text), None, now)?;
    // The next tick counts from now: ticks missed while the emulator was down are not back-filled.
    reschedule(conn, id, Some(now + ms(every)))?;
    Ok(true)
}

fn bot_typing(conn: &Connection, chat: i64, now: i64) -> Result<bool> {
    if let Some(agent) = present_agent(conn, chat)? {
        append_event(conn, chat, MessageType::TypingStarted, agent, now)?;
    }
    Ok(false)
}

fn bot_reply_job(
    conn: &Connection,
    id: i64,
    chat: i64,
    reply_to: Option<i64>,
    now: i64,
    sim: &Sim,
) -> Result<bool> {
    let Some(agent) = present_agent(conn, chat)? else {
        // The agent left before answering: the reply waits for the next agent.
        reschedule(conn, id, None)?;
        return Ok(true);
    };
    let question = match reply_to {
        Some(index) => Store::message_text(conn, chat, index)?,
        None => None,
    };
    let Some(question) = question else {
        return Ok(false);
    };
    let answer = bot_reply(&question);
    append(conn, chat, MessageType::Text, agent, Some(&answer), None, now)?;
    if sim.bot_typing {
        append_event(conn, chat, MessageType::TypingStopped, agent, now)?;
    }
    Ok(false)
}

fn idle_timeout(conn: &Connection, id: i64, chat: i64, now: i64, sim: &Sim) -> Result<bool> {
    let Some(timeout) = sim.idle_timeout else {
        return Ok(false);
    };
    let last: i64 = conn
        .prepare_cached("SELECT last_customer_activity FROM chats WHERE rowid = ?1")?
        .query_row([chat], |r| r.get(0))?;
    let deadline = last + ms(timeout);
    if deadline > now {
        reschedule(conn, id, Some(deadline))?;
        return Ok(true);
    }
    let text = format!(
        "This chat was closed after {} without activity from the customer.",
        human(timeout)
    );
    append(conn, chat, MessageType::Text, SYSTEM_ID, Some(&text), None, now)?;
    close_chat(conn, chat, now)?;
    Ok(true) // close_chat deleted every job of the chat, this one included
}

fn reschedule(conn: &Connection, id: i64, due: Option<i64>) -> Result<()> {
    conn.prepare_cached("UPDATE jobs SET due_at = ?2 WHERE id = ?1")?.execute(params![id, due])?;
    Ok(())
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
