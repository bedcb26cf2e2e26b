//! Chat operations: each runs in one transaction that validates against the chat's current
//! state, appends messages, and schedules the contact centre's follow-up work.

use std::sync::Arc;

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use super::cache::{touch, touch_all, Entry};
use super::{now_ms, state_from_db, Result, Store, StoreError};
use crate::domain::{MessageType, Operation, ParticipantType, State};
use crate::sim::{ms, Sim};

pub const CUSTOMER_ID: i64 = 1;
pub const SYSTEM_ID: i64 = 2;
pub const SYSTEM_NICKNAME: &str = "system";

pub struct NewChat {
    pub nickname: String,
    pub subject: String,
    /// The userData object, serialized as JSON.
    pub user_data: Option<String>,
    pub endpoint: Option<String>,
}

#[derive(Debug, Clone)]
pub enum CustomerAction {
    SendMessage(String),
    StartTyping,
    StopTyping,
    Complete,
}

impl CustomerAction {
    pub fn operation(&self) -> Operation {
        match self {
            CustomerAction::SendMessage(_) => Operation::SendMessage,
            CustomerAction::StartTyping => Operation::SendStartTypingNotification,
            CustomerAction::StopTyping => Operation::SendStopTypingNotification,
            CustomerAction::Complete => Operation::Complete,
        }
    }
}

/// What a person playing the agent can do through `/__admin/chats/{id}/agent`.
#[derive(Debug, Clone)]
pub enum AgentAction {
    Join { nickname: String },
    Message(String),
    TypingStarted,
    TypingStopped,
    PushUrl(String),
    Notice(String),
    Leave,
    Complete,
}

impl AgentAction {
    pub fn name(&self) -> &'static str {
        match self {
            AgentAction::Join { .. } => "join",
            AgentAction::Message(_) => "message",
            AgentAction::TypingStarted => "typingStarted",
            AgentAction::TypingStopped => "typingStopped",
            AgentAction::PushUrl(_) => "pushUrl",
            AgentAction::Notice(_) => "notice",
            AgentAction::Leave => "leave",
            AgentAction::Complete => "complete",
        }
    }
}

/// Whose read cursor a transcript read moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    Customer = 0,
    Agent = 1,
}

impl Reader {
    fn as_str(self) -> &'static str {
        match self {
            Reader::Customer => "customer",
            Reader::Agent => "agent",
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ParticipantView {
    pub nickname: String,
    #[serde(rename = "participantId")]
    pub participant_id: String,
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct MessageView {
    pub index: i64,
    #[serde(rename = "type")]
    pub kind: String,
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
    pub capabilities: Vec<&'static str>,
    pub id: String,
    pub participants: Vec<ParticipantView>,
    pub state: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatSummary {
    pub id: String,
    pub nickname: String,
    pub subject: String,
    pub state: &'static str,
    pub created: i64,
    pub message_count: i64,
    pub unread_by_agent: i64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantDetail {
    pub nickname: String,
    pub participant_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub joined: i64,
    pub left: Option<i64>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatDetail {
    pub id: String,
    pub nickname: String,
    pub subject: String,
    /// The stored JSON text, passed through as it is (not parsed and encoded again).
    pub user_data: Option<Box<serde_json::value::RawValue>>,
    pub endpoint: Option<String>,
    pub state: &'static str,
    pub capabilities: Vec<&'static str>,
    pub created: i64,
    pub ended: Option<i64>,
    pub last_customer_activity: i64,
    pub participants: Vec<ParticipantDetail>,
    pub messages: Vec<MessageView>,
    pub read_cursors: serde_json::Value,
    pub pending_work: Vec<serde_json::Value>,
}

#[derive(Debug, Serialize)]
pub struct Health {
    pub chats: serde_json::Map<String, serde_json::Value>,
    pub pending_work: i64,
}

/// The row of `chats` an operation works on.
pub(super) struct ChatRow {
    pub rowid: i64,
    pub state: State,
}

pub(super) fn find_chat(conn: &Connection, id: &str) -> Result<ChatRow> {
    conn.prepare_cached("SELECT rowid, state FROM chats WHERE id = ?1")?
        .query_row([id], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
        .optional()?
        .map(|(rowid, state)| ChatRow { rowid, state: state_from_db(&state) })
        .ok_or(StoreError::ChatNotFound)
}

pub(super) fn chat_state(conn: &Connection, rowid: i64) -> Result<State> {
    let s: String = conn
        .prepare_cached("SELECT state FROM chats WHERE rowid = ?1")?
        .query_row([rowid], |r| r.get(0))?;
    Ok(state_from_db(&s))
}

/// Appends one message and returns its index (the chat's next, under the write lock).
pub(super) fn append(
    conn: &Connection,
    chat: i64,
    kind: MessageType,
    participant: i64,
    text: Option<&str>,
    url: Option<&str>,
    now: i64,
) -> Result<i64> {
    touch(chat);
    let index: i64 = conn
        .prepare_cached(
            "UPDATE chats SET last_index = last_index + 1 WHERE rowid = ?1 RETURNING last_index",
        )?
        .query_row([chat], |r| r.get(0))?;
    conn.prepare_cached(
        "INSERT INTO messages (chat_rowid, idx, type, participant_id, text, url, utc_time)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![chat, index, kind.as_str(), participant, text, url, now])?;
    Ok(index)
}

/// Appends a message without text or url (joined, left, typing).
pub(super) fn append_event(
    conn: &Connection,
    chat: i64,
    kind: MessageType,
    participant: i64,
    now: i64,
) -> Result<i64> {
    append(conn, chat, kind, participant, None, None, now)
}

fn set_state(conn: &Connection, chat: i64, state: State) -> Result<()> {
    touch(chat);
    conn.prepare_cached("UPDATE chats SET state = ?2 WHERE rowid = ?1")?
        .execute(params![chat, state.as_str()])?;
    Ok(())
}

fn add_participant(
    conn: &Connection,
    chat: i64,
    nickname: &str,
    kind: ParticipantType,
    now: i64,
) -> Result<i64> {
    let id: i64 = conn
        .prepare_cached(
            "INSERT INTO participants (chat_rowid, participant_id, nickname, type, joined_at)
             SELECT ?1, coalesce(max(participant_id), 0) + 1, ?2, ?3, ?4
             FROM participants WHERE chat_rowid = ?1
             RETURNING participant_id",
        )?
        .query_row(params![chat, nickname, kind.as_str(), now], |r| r.get(0))?;
    Ok(id)
}

fn mark_left(conn: &Connection, chat: i64, participant: i64, now: i64) -> Result<()> {
    touch(chat);
    conn.prepare_cached(
        "UPDATE participants SET left_at = ?3 WHERE chat_rowid = ?1 AND participant_id = ?2",
    )?
    .execute(params![chat, participant, now])?;
    Ok(())
}

/// The agent currently in the chat, if any.
pub(super) fn present_agent(conn: &Connection, chat: i64) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached(
            "SELECT participant_id FROM participants
             WHERE chat_rowid = ?1 AND type = 'Agent' AND left_at IS NULL
             ORDER BY participant_id DESC LIMIT 1",
        )?
        .query_row([chat], |r| r.get(0))
        .optional()?)
}

pub(super) fn insert_job(
    conn: &Connection,
    chat: i64,
    kind: &str,
    due: Option<i64>,
    reply_to: Option<i64>,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO jobs (chat_rowid, kind, due_at, reply_to) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![chat, kind, due, reply_to])?;
    Ok(())
}

/// Schedules the bot's answer to customer message `reply_to`: typing (if on) then the reply.
/// Replies keep the order of the questions: none is due before an earlier one.
fn schedule_reply(conn: &Connection, chat: i64, reply_to: i64, now: i64, sim: &Sim) -> Result<()> {
    let delay = sim.reply_delay_ms();
    let previous: Option<i64> = conn
        .prepare_cached(
            "SELECT max(due_at) FROM jobs WHERE chat_rowid = ?1 AND kind = 'bot_reply'",
        )?
        .query_row([chat], |r| r.get(0))?;
    let due = (now + delay).max(previous.unwrap_or(0));
    if sim.bot_typing {
        insert_job(conn, chat, "bot_typing", Some((due - delay / 2).max(now)), Some(reply_to))?;
    }
    insert_job(conn, chat, "bot_reply", Some(due), Some(reply_to))
}

/// Schedules the replies that waited for an agent (messages sent while `WaitingForAgent`).
fn schedule_waiting_replies(conn: &Connection, chat: i64, now: i64, sim: &Sim) -> Result<()> {
    let waiting: Vec<(i64, i64)> = conn
        .prepare_cached(
            "SELECT id, reply_to FROM jobs
             WHERE chat_rowid = ?1 AND kind = 'bot_reply' AND due_at IS NULL ORDER BY reply_to",
        )?
        .query_map([chat], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (job, reply_to) in waiting {
        conn.prepare_cached("DELETE FROM jobs WHERE id = ?1")?.execute([job])?;
        schedule_reply(conn, chat, reply_to, now, sim)?;
    }
    Ok(())
}

/// An agent joins: `ParticipantJoined`, state `Chatting`, and waiting replies get scheduled.
pub(super) fn join_agent(
    conn: &Connection,
    chat: i64,
    nickname: &str,
    now: i64,
    sim: &Sim,
) -> Result<()> {
    let agent = add_participant(conn, chat, nickname, ParticipantType::Agent, now)?;
    append_event(conn, chat, MessageType::ParticipantJoined, agent, now)?;
    set_state(conn, chat, State::Chatting)?;
    if sim.is_bot() {
        schedule_waiting_replies(conn, chat, now, sim)?;
    }
    Ok(())
}

fn delete_jobs(conn: &Connection, chat: i64) -> Result<()> {
    conn.prepare_cached("DELETE FROM jobs WHERE chat_rowid = ?1")?.execute([chat])?;
    Ok(())
}

fn end_chat(conn: &Connection, chat: i64, now: i64) -> Result<()> {
    touch(chat);
    conn.prepare_cached("UPDATE chats SET state = 'Idle', ended_at = ?2 WHERE rowid = ?1")?
        .execute(params![chat, now])?;
    delete_jobs(conn, chat)
}

/// Closes a chat from the contact centre's side (agent Complete, inactivity): whoever is still
/// in it leaves, in reverse join order (agent, system, customer), the chat goes `Idle`, and its
/// pending work is cancelled.
pub(super) fn close_chat(conn: &Connection, chat: i64, now: i64) -> Result<()> {
    let present: Vec<i64> = conn
        .prepare_cached(
            "SELECT participant_id FROM participants
             WHERE chat_rowid = ?1 AND left_at IS NULL ORDER BY participant_id DESC",
        )?
        .query_map([chat], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for participant in present {
        append_event(conn, chat, MessageType::ParticipantLeft, participant, now)?;
        mark_left(conn, chat, participant, now)?;
    }
    end_chat(conn, chat, now)
}

fn capabilities(state: State) -> Vec<&'static str> {
    state.capabilities().iter().map(|op| op.as_str()).collect()
}

/// Up to `limit` messages after index `after`, in order.
fn read_messages(conn: &Connection, chat: i64, after: i64, limit: i64) -> Result<Vec<MessageView>> {
    let mut stmt = conn.prepare_cached(
        "SELECT m.idx, m.type, m.participant_id, p.nickname, p.type, m.text, m.url, m.utc_time
         FROM messages m
         JOIN participants p ON p.chat_rowid = m.chat_rowid AND p.participant_id = m.participant_id
         WHERE m.chat_rowid = ?1 AND m.idx > ?2
         ORDER BY m.idx LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![chat, after, limit], |r| {
        Ok(MessageView {
            index: r.get(0)?,
            kind: r.get(1)?,
            from: ParticipantView {
                participant_id: r.get::<_, i64>(2)?.to_string(),
                nickname: r.get(3)?,
                kind: r.get(4)?,
            },
            text: r.get(5)?,
            url: r.get(6)?,
            utc_time: r.get(7)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn move_cursor(conn: &Connection, chat: i64, reader: Reader, to: i64) -> Result<()> {
    touch(chat);
    conn.prepare_cached(
        "INSERT INTO read_cursors (chat_rowid, reader, last_read_index) VALUES (?1, ?2, ?3)
         ON CONFLICT (chat_rowid, reader)
         DO UPDATE SET last_read_index = max(last_read_index, excluded.last_read_index)",
    )?
    .execute(params![chat, reader.as_str(), to])?;
    Ok(())
}

impl Store {
    /// GetChat: state, capabilities, and the participants currently in the chat.
    pub fn get_chat(&self, chat_id: &str) -> Result<ChatView> {
        Ok(self.snapshot(chat_id)?.view)
    }

    /// GetChat's view, if the read cache has it (no database trip).
    pub fn cached_chat(&self, chat_id: &str) -> Option<ChatView> {
        self.cache().with(chat_id, |e| e.view.clone())
    }

    /// Whether `reader` has unread messages, if the read cache knows.
    pub fn cached_unread(&self, chat_id: &str, reader: Reader) -> Option<bool> {
        self.cache().with(chat_id, |e| e.cursors[reader as usize] < e.last_index)
    }

    /// The chat's last message index, if the read cache knows.
    pub fn cached_last_index(&self, chat_id: &str) -> Option<i64> {
        self.cache().with(chat_id, |e| e.last_index)
    }

    /// Reads what the fast paths need about a chat (state, present participants, last index,
    /// cursors) in one read transaction, and keeps it in the read cache.
    fn snapshot(&self, chat_id: &str) -> Result<Entry> {
        let generation = self.cache().generation();
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        let (rowid, state, last_index): (i64, String, i64) = tx
            .prepare_cached("SELECT rowid, state, last_index FROM chats WHERE id = ?1")?
            .query_row([chat_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?
            .ok_or(StoreError::ChatNotFound)?;
        let state = state_from_db(&state);
        let mut cursors = [0, 0];
        for row in tx
            .prepare_cached(
                "SELECT reader, last_read_index FROM read_cursors WHERE chat_rowid = ?1",
            )?
            .query_map([rowid], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
        {
            let (reader, index) = row?;
            let slot =
                if reader == Reader::Agent.as_str() { Reader::Agent } else { Reader::Customer };
            cursors[slot as usize] = index;
        }
        let participants = tx
            .prepare_cached(
                "SELECT participant_id, nickname, type FROM participants
                 WHERE chat_rowid = ?1 AND left_at IS NULL ORDER BY participant_id",
            )?
            .query_map([rowid], |r| {
                Ok(ParticipantView {
                    participant_id: r.get::<_, i64>(0)?.to_string(),
                    nickname: r.get(1)?,
                    kind: r.get(2)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        let view = ChatView {
            capabilities: capabilities(state),
            id: chat_id.to_string(),
            participants,
            state: state.as_str(),
        };
        let entry = Entry { rowid, last_index, cursors, view };
        self.cache().fill(generation, chat_id, entry.clone());
        Ok(entry)
    }

    /// The admin list of chats, newest first.
    pub fn list_chats(&self, state: Option<State>, limit: i64) -> Result<Vec<ChatSummary>> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT c.id, c.nickname, c.subject, c.state, c.created_at, c.last_index,
                    c.last_index - coalesce(r.last_read_index, 0)
             FROM chats c
             LEFT JOIN read_cursors r ON r.chat_rowid = c.rowid AND r.reader = 'agent'
             WHERE ?1 IS NULL OR c.state = ?1
             ORDER BY c.created_at DESC, c.rowid DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![state.map(State::as_str), limit], |r| {
            Ok(ChatSummary {
                id: r.get(0)?,
                nickname: r.get(1)?,
                subject: r.get(2)?,
                state: state_from_db(&r.get::<_, String>(3)?).as_str(),
                created: r.get(4)?,
                message_count: r.get(5)?,
                unread_by_agent: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The admin view of one chat: everything stored about it.
    pub fn chat_detail(&self, chat_id: &str) -> Result<ChatDetail> {
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        let chat = find_chat(&tx, chat_id)?;
        let c = chat.rowid;
        #[allow(clippy::type_complexity)]
        let (nickname, subject, user_data, endpoint, created, ended, activity): (
            String,
            String,
            Option<String>,
            Option<String>,
            i64,
            Option<i64>,
            i64,
        ) = tx.query_row(
            "SELECT nickname, subject, user_data, endpoint, created_at, ended_at,
                    last_customer_activity FROM chats WHERE rowid = ?1",
            [c],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)),
        )?;
        let participants = tx
            .prepare(
                "SELECT participant_id, nickname, type, joined_at, left_at FROM participants
                 WHERE chat_rowid = ?1 ORDER BY participant_id",
            )?
            .query_map([c], |r| {
                Ok(ParticipantDetail {
                    participant_id: r.get::<_, i64>(0)?.to_string(),
                    nickname: r.get(1)?,
                    kind: r.get(2)?,
                    joined: r.get(3)?,
                    left: r.get(4)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        let mut cursors = serde_json::Map::new();
        for row in tx
            .prepare("SELECT reader, last_read_index FROM read_cursors WHERE chat_rowid = ?1")?
            .query_map([c], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
        {
            let (reader, index) = row?;
            cursors.insert(reader, index.into());
        }
        let pending_work = tx
            .prepare(
                "SELECT kind, due_at, reply_to FROM jobs WHERE chat_rowid = ?1 ORDER BY due_at, id",
            )?
            .query_map([c], |r| {
                Ok(serde_json::json!({
                    "kind": r.get::<_, String>(0)?,
                    "due": r.get::<_, Option<i64>>(1)?,
                    "replyTo": r.get::<_, Option<i64>>(2)?,
                }))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let messages = read_messages(&tx, c, 0, i64::MAX)?;
        Ok(ChatDetail {
            id: chat_id.to_string(),
            nickname,
            subject,
            user_data: user_data.and_then(|s| serde_json::value::RawValue::from_string(s).ok()),
            endpoint,
            state: chat.state.as_str(),
            capabilities: capabilities(chat.state),
            created,
            ended,
            last_customer_activity: activity,
            participants,
            messages,
            read_cursors: cursors.into(),
            pending_work,
        })
    }

    pub fn health(&self) -> Result<Health> {
        let conn = self.conn()?;
        let mut chats = serde_json::Map::new();
        for st in State::ALL {
            chats.insert(st.as_str().to_string(), 0.into());
        }
        let mut stmt = conn.prepare_cached("SELECT state, count(*) FROM chats GROUP BY state")?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
            let (state, n) = row?;
            chats.insert(state, n.into());
        }
        let pending_work = conn.query_row("SELECT count(*) FROM jobs", [], |r| r.get(0))?;
        Ok(Health { chats, pending_work })
    }

    /// The text of a chat's message (for the bot's reply).
    pub(super) fn message_text(conn: &Connection, chat: i64, index: i64) -> Result<Option<String>> {
        Ok(conn
            .prepare_cached("SELECT text FROM messages WHERE chat_rowid = ?1 AND idx = ?2")?
            .query_row(params![chat, index], |r| r.get(0))
            .optional()?
            .flatten())
    }
}

/// The writes (through the single writer: acknowledged after their commit) and the transcript's
/// read paths.
impl Store {
    /// RequestChat: the customer and the system participant join; the contact centre's work
    /// (agent join, system messages, inactivity check) is scheduled. Returns the new chat's id.
    pub async fn request_chat(&self, new: NewChat, sim: Arc<Sim>) -> Result<String> {
        self.write(move |tx| request_chat_op(tx, &new, &sim)).await
    }

    /// SendMessage, SendStartTypingNotification, SendStopTypingNotification, Complete.
    pub async fn customer_action(
        &self,
        chat_id: String,
        action: CustomerAction,
        sim: Arc<Sim>,
    ) -> Result<()> {
        self.write(move |tx| customer_action_op(tx, &chat_id, &action, &sim)).await
    }

    /// Acts as the agent (admin API), with the same capability rules as the customer API.
    pub async fn agent_action(
        &self,
        chat_id: String,
        action: AgentAction,
        sim: Arc<Sim>,
    ) -> Result<()> {
        self.write(move |tx| agent_action_op(tx, &chat_id, &action, &sim)).await
    }

    /// Deletes every chat (and with them their messages, cursors and pending work).
    pub async fn delete_all_chats(&self) -> Result<usize> {
        self.write(delete_all_chats_op).await
    }

    /// Whether `reader` has messages it has not received (a read: the common poll finds nothing
    /// new and is answered without the writer).
    pub fn has_unread(&self, chat_id: &str, reader: Reader) -> Result<bool> {
        let entry = self.snapshot(chat_id)?;
        Ok(entry.cursors[reader as usize] < entry.last_index)
    }

    /// GetTranscript without `index`: up to `page` messages `reader` has not received, moving its
    /// cursor past them in the same transaction, so two polls never receive the same message.
    pub async fn take_unread(
        &self,
        chat_id: String,
        reader: Reader,
        page: i64,
    ) -> Result<Vec<MessageView>> {
        self.write(move |tx| {
            let chat = find_chat(tx, &chat_id)?;
            let after: i64 = tx
                .prepare_cached(
                    "SELECT last_read_index FROM read_cursors WHERE chat_rowid = ?1 AND reader = ?2",
                )?
                .query_row(params![chat.rowid, reader.as_str()], |r| r.get(0))
                .optional()?
                .unwrap_or(0);
            let messages = read_messages(tx, chat.rowid, after, page)?;
            if let Some(last) = messages.last() {
                move_cursor(tx, chat.rowid, reader, last.index)?;
            }
            Ok(messages)
        })
        .await
    }

    /// GetTranscript with `index = from`: up to `page` messages with index >= max(from, 1) (a
    /// read), and whether `reader`'s cursor is behind the last of them (then `advance_cursor`).
    pub fn messages_from(
        &self,
        chat_id: &str,
        reader: Reader,
        from: i64,
        page: i64,
    ) -> Result<(Vec<MessageView>, bool)> {
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        let chat = find_chat(&tx, chat_id)?;
        let messages = read_messages(&tx, chat.rowid, from.max(1) - 1, page)?;
        let behind = match messages.last() {
            None => false,
            Some(last) => {
                let read: i64 = tx
                    .prepare_cached(
                        "SELECT last_read_index FROM read_cursors WHERE chat_rowid = ?1 AND reader = ?2",
                    )?
                    .query_row(params![chat.rowid, reader.as_str()], |r| r.get(0))
                    .optional()?
                    .unwrap_or(0);
                read < last.index
            }
        };
        Ok((messages, behind))
    }

    /// Moves `reader`'s cursor forward to `to` (never backwards).
    pub async fn advance_cursor(&self, chat_id: String, reader: Reader, to: i64) -> Result<()> {
        self.write(move |tx| {
            let chat = find_chat(tx, &chat_id)?;
            move_cursor(tx, chat.rowid, reader, to)
        })
        .await
    }
}

// ---- the writes, run by the writer thread (each inside its transaction) ----

/// RequestChat: the customer and the system participant join; the contact centre's work
/// (agent join, system messages, inactivity check) is scheduled. Returns the new chat's id.
fn request_chat_op(tx: &Connection, new: &NewChat, sim: &Sim) -> Result<String> {
    let now = now_ms();
    let id = sim.new_chat_id();
    let chat: i64 = tx
        .prepare_cached(
            "INSERT INTO chats (id, nickname, subject, user_data, endpoint, state, created_at,
                                last_customer_activity)
             VALUES (?1, ?2, ?3, ?4, ?5, 'WaitingForAgent', ?6, ?6) RETURNING rowid",
        )?
        .query_row(
            params![id, new.nickname, new.subject, new.user_data, new.endpoint, now],
            |r| r.get(0),
        )?;
    let customer = add_participant(tx, chat, &new.nickname, ParticipantType::Customer, now)?;
    let system = add_participant(tx, chat, SYSTEM_NICKNAME, ParticipantType::External, now)?;
    debug_assert_eq!((customer, system), (CUSTOMER_ID, SYSTEM_ID));
    append_event(tx, chat, MessageType::ParticipantJoined, customer, now)?;
    append_event(tx, chat, MessageType::ParticipantJoined, system, now)?;
    for reader in [Reader::Customer, Reader::Agent] {
        move_cursor(tx, chat, reader, 0)?;
    }
    if sim.is_bot() {
        insert_job(tx, chat, "agent_join", Some(now + sim.join_delay_ms()), None)?;
    }
    if let Some(every) = sim.system_message_interval {
        insert_job(tx, chat, "system_message", Some(now + ms(every)), None)?;
    }
    if let Some(timeout) = sim.idle_timeout {
        insert_job(tx, chat, "idle_timeout", Some(now + ms(timeout)), None)?;
    }
    Ok(id)
}

/// SendMessage, SendStartTypingNotification, SendStopTypingNotification, Complete.
fn customer_action_op(
    tx: &Connection,
    chat_id: &str,
    action: &CustomerAction,
    sim: &Sim,
) -> Result<()> {
    let chat = find_chat(tx, chat_id)?;
    let op = action.operation();
    if !chat.state.allows(op) {
        return Err(StoreError::NotAllowed(format!(
            "{} is not possible in state {}: the chat has ended; request a new chat",
            op.as_str(),
            chat.state.as_str()
        )));
    }
    let now = now_ms();
    let c = chat.rowid;
    match action {
        CustomerAction::SendMessage(text) => {
            let index = append(tx, c, MessageType::Text, CUSTOMER_ID, Some(text), None, now)?;
            if sim.is_bot() {
                if present_agent(tx, c)?.is_some() {
                    schedule_reply(tx, c, index, now, sim)?;
                } else {
                    insert_job(tx, c, "bot_reply", None, Some(index))?;
                }
            }
        }
        CustomerAction::StartTyping => {
            append_event(tx, c, MessageType::TypingStarted, CUSTOMER_ID, now)?;
        }
        CustomerAction::StopTyping => {
            append_event(tx, c, MessageType::TypingStopped, CUSTOMER_ID, now)?;
        }
        CustomerAction::Complete => {
            append_event(tx, c, MessageType::ParticipantLeft, CUSTOMER_ID, now)?;
            mark_left(tx, c, CUSTOMER_ID, now)?;
            end_chat(tx, c, now)?;
        }
    }
    tx.prepare_cached("UPDATE chats SET last_customer_activity = ?2 WHERE rowid = ?1")?
        .execute(params![c, now])?;
    Ok(())
}

/// Acts as the agent (admin API), with the same capability rules as the customer API.
fn agent_action_op(tx: &Connection, chat_id: &str, action: &AgentAction, sim: &Sim) -> Result<()> {
    let chat = find_chat(tx, chat_id)?;
    let name = action.name();
    if chat.state == State::Idle {
        return Err(StoreError::NotAllowed(format!(
            "agent action {name} is not possible: the chat is Idle (it has ended)"
        )));
    }
    let c = chat.rowid;
    let now = now_ms();
    let agent = present_agent(tx, c)?;
    let need_agent = || {
        agent.ok_or_else(|| {
            StoreError::NotAllowed(format!(
                "agent action {name} needs an agent in the chat; join first (action \"join\")"
            ))
        })
    };
    match action {
        AgentAction::Join { nickname } => {
            if agent.is_some() {
                return Err(StoreError::NotAllowed(
                    "an agent is already in this chat; leave first to join as another".into(),
                ));
            }
            join_agent(tx, c, nickname, now, sim)?;
        }
        AgentAction::Message(text) => {
            append(tx, c, MessageType::Text, need_agent()?, Some(text), None, now)?;
        }
        AgentAction::TypingStarted => {
            append_event(tx, c, MessageType::TypingStarted, need_agent()?, now)?;
        }
        AgentAction::TypingStopped => {
            append_event(tx, c, MessageType::TypingStopped, need_agent()?, now)?;
        }
        AgentAction::PushUrl(url) => {
            append(tx, c, MessageType::PushUrl, need_agent()?, None, Some(url), now)?;
        }
        AgentAction::Notice(text) => {
            append(tx, c, MessageType::Notice, need_agent()?, Some(text), None, now)?;
        }
        AgentAction::Leave => {
            let agent = need_agent()?;
            append_event(tx, c, MessageType::ParticipantLeft, agent, now)?;
            mark_left(tx, c, agent, now)?;
            set_state(tx, c, State::WaitingForAgent)?;
            // The bot's pending typing notices go with the agent; its replies wait for
            // the next agent.
            tx.prepare_cached(
                "DELETE FROM jobs WHERE chat_rowid = ?1 AND kind IN ('bot_typing', 'agent_join')",
            )?
            .execute([c])?;
            tx.prepare_cached(
                "UPDATE jobs SET due_at = NULL WHERE chat_rowid = ?1 AND kind = 'bot_reply'",
            )?
            .execute([c])?;
        }
        AgentAction::Complete => close_chat(tx, c, now)?,
    }
    Ok(())
}

/// Deletes every chat (and with them their messages, cursors and pending work).
fn delete_all_chats_op(tx: &Connection) -> Result<usize> {
    touch_all();
    let n = tx.execute("DELETE FROM chats", [])?;
    Ok(n)
}
