//! The reads: GetChat's view (through the read cache), the admin list and detail, the health
//! counts. Each runs in one read transaction on a pooled connection.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::cache::Entry;
use super::views::{
    job_kind_name, ChatDetail, ChatSummary, ChatView, ChatsByState, Counts, MessageView,
    ParticipantDetail, ParticipantView, PendingWork, ReadCursors,
};
use super::writes::state_from_db;
use super::{Result, Store, StoreError};
use crate::domain::{ChatId, ChatState, MessageType, ParticipantType, Reader};
use crate::events::ChatEvents;

impl Store {
    /// GetChat: state, capabilities, and the participants currently in the chat. The read cache
    /// answers most of them without a trip to the database.
    pub async fn get_chat(&self, id: &ChatId) -> Result<ChatView> {
        if let Some(view) = self.cache().with(id, |e| e.view.clone()) {
            return Ok(view);
        }
        let id = id.clone();
        self.read(move |store| Ok(store.snapshot(&id)?.view)).await
    }

    /// The scenarios added at run time: (name, document). Blocks: for the start.
    pub fn stored_scenarios(&self) -> Result<Vec<(String, String)>> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare("SELECT name, document FROM scenarios ORDER BY name")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Subscribes to chat `id`'s events. The subscription is made by the writer, between two
    /// operations, and answered after the commit of those before it: every message committed
    /// after this returns is published to it, and every one before is in the database for the
    /// subscriber's first read. (Made anywhere else, a write in flight could decide that nobody
    /// watched, and commit after the subscriber's read: that message would reach neither.)
    pub async fn watch(&self, id: &ChatId) -> Result<ChatEvents> {
        let (id, hub) = (id.clone(), self.events().clone());
        self.write(move |tx| {
            let rowid: i64 = tx
                .conn()
                .prepare_cached("SELECT rowid FROM chats WHERE id = ?1")?
                .query_row([id.as_str()], |r| r.get(0))
                .optional()?
                .ok_or_else(|| StoreError::ChatNotFound(id.clone()))?;
            Ok(hub.subscribe_chat(rowid))
        })
        .await
    }

    /// A chat's state and its messages after index `after`, read together (an event stream
    /// starts with them).
    pub async fn state_and_messages_after(
        &self,
        id: &ChatId,
        after: i64,
    ) -> Result<(ChatState, Vec<MessageView>)> {
        let id = id.clone();
        self.read(move |store| {
            let mut conn = store.conn()?;
            let tx = conn.transaction()?;
            let (rowid, state): (i64, String) = tx
                .prepare_cached("SELECT rowid, state FROM chats WHERE id = ?1")?
                .query_row([id.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?
                .ok_or_else(|| StoreError::ChatNotFound(id.clone()))?;
            Ok((state_from_db(&state), read_messages(&tx, rowid, after, None)?))
        })
        .await
    }

    /// Reads what the fast paths need about a chat (state, present participants, last index,
    /// cursors) in one read transaction, and keeps it in the read cache.
    pub(super) fn snapshot(&self, id: &ChatId) -> Result<Entry> {
        let generation = self.cache().generation();
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        let (rowid, state, last_index): (i64, String, i64) = tx
            .prepare_cached("SELECT rowid, state, last_index FROM chats WHERE id = ?1")?
            .query_row([id.as_str()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?
            .ok_or_else(|| StoreError::ChatNotFound(id.clone()))?;
        let state = state_from_db(&state);
        let mut cursors = [0, 0];
        for row in tx
            .prepare_cached(
                "SELECT reader, last_read_index FROM read_cursors WHERE chat_rowid = ?1",
            )?
            .query_map([rowid], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
        {
            let (reader, index) = row?;
            if let Some(reader) = Reader::parse(&reader) {
                cursors[reader as usize] = index;
            }
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
                    kind: participant_type(r, 2)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        let view =
            ChatView { capabilities: state.capabilities(), id: id.clone(), participants, state };
        let entry = Entry { rowid, last_index, cursors, view };
        self.cache().fill(generation, id, entry.clone());
        Ok(entry)
    }

    /// The admin list of chats, newest first.
    pub async fn list_chats(
        &self,
        state: Option<ChatState>,
        limit: i64,
    ) -> Result<Vec<ChatSummary>> {
        self.read(move |store| {
            let conn = store.conn()?;
            let mut stmt = conn.prepare_cached(
                "SELECT c.id, c.nickname, c.subject, c.state, c.created_at, c.last_index,
                        c.last_index - coalesce(r.last_read_index, 0), c.scenario
                 FROM chats c
                 LEFT JOIN read_cursors r ON r.chat_rowid = c.rowid AND r.reader = 'agent'
                 WHERE ?1 IS NULL OR c.state = ?1
                 ORDER BY c.created_at DESC, c.rowid DESC LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![state.map(ChatState::as_str), limit], |r| {
                Ok(ChatSummary {
                    id: ChatId::from_stored(r.get(0)?),
                    nickname: r.get(1)?,
                    subject: r.get(2)?,
                    state: state_from_db(&r.get::<_, String>(3)?),
                    created: r.get(4)?,
                    message_count: r.get(5)?,
                    unread_by_agent: r.get(6)?,
                    scenario: r.get(7)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .await
    }

    /// The admin view of one chat: everything stored about it.
    pub async fn chat_detail(&self, id: &ChatId) -> Result<ChatDetail> {
        let id = id.clone();
        self.read(move |store| store.chat_detail_now(&id)).await
    }

    fn chat_detail_now(&self, id: &ChatId) -> Result<ChatDetail> {
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        #[allow(clippy::type_complexity)]
        let (
            c,
            state,
            nickname,
            subject,
            user_data,
            endpoint,
            created,
            ended,
            activity,
            scenario,
            offset,
        ): (
            i64,
            String,
            String,
            String,
            Option<String>,
            Option<String>,
            i64,
            Option<i64>,
            i64,
            Option<String>,
            i64,
        ) = tx
            .query_row(
                "SELECT rowid, state, nickname, subject, user_data, endpoint, created_at, ended_at,
                        last_customer_activity, scenario, clock_offset FROM chats WHERE id = ?1",
                [id.as_str()],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                        r.get(7)?,
                        r.get(8)?,
                        r.get(9)?,
                        r.get(10)?,
                    ))
                },
            )
            .optional()?
            .ok_or_else(|| StoreError::ChatNotFound(id.clone()))?;
        let state = state_from_db(&state);
        let participants = tx
            .prepare(
                "SELECT participant_id, nickname, type, joined_at, left_at FROM participants
                 WHERE chat_rowid = ?1 ORDER BY participant_id",
            )?
            .query_map([c], |r| {
                Ok(ParticipantDetail {
                    participant_id: r.get::<_, i64>(0)?.to_string(),
                    nickname: r.get(1)?,
                    kind: participant_type(r, 2)?,
                    joined: r.get(3)?,
                    left: r.get(4)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        let mut read_cursors = ReadCursors { customer: None, agent: None };
        for row in tx
            .prepare("SELECT reader, last_read_index FROM read_cursors WHERE chat_rowid = ?1")?
            .query_map([c], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
        {
            let (reader, index) = row?;
            match Reader::parse(&reader) {
                Some(Reader::Customer) => read_cursors.customer = Some(index),
                Some(Reader::Agent) => read_cursors.agent = Some(index),
                None => {}
            }
        }
        let pending_work = tx
            .prepare(
                "SELECT kind, due_at, reply_to FROM jobs WHERE chat_rowid = ?1 ORDER BY due_at, id",
            )?
            .query_map([c], |r| {
                Ok(PendingWork {
                    kind: job_kind_name(&r.get::<_, String>(0)?),
                    due: r.get(1)?,
                    reply_to: r.get(2)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        let messages = read_messages(&tx, c, 0, None)?;
        Ok(ChatDetail {
            id: id.clone(),
            nickname,
            subject,
            user_data: user_data.and_then(|s| serde_json::value::RawValue::from_string(s).ok()),
            endpoint,
            scenario,
            state,
            capabilities: state.capabilities(),
            created,
            ended,
            last_customer_activity: activity,
            clock_offset_ms: offset,
            participants,
            messages,
            read_cursors,
            pending_work,
        })
    }

    /// Chats by state and pending work, for the health answer.
    pub async fn counts(&self) -> Result<Counts> {
        self.read(|store| {
            let conn = store.conn()?;
            let mut chats = ChatsByState::default();
            let mut stmt =
                conn.prepare_cached("SELECT state, count(*) FROM chats GROUP BY state")?;
            for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
                let (state, n) = row?;
                chats.add(state_from_db(&state), n);
            }
            let pending_work = conn.query_row("SELECT count(*) FROM jobs", [], |r| r.get(0))?;
            Ok(Counts { chats, pending_work })
        })
        .await
    }
}

/// The messages of chat `chat` after index `after`, in order; at most `limit` when given.
pub(super) fn read_messages(
    conn: &Connection,
    chat: i64,
    after: i64,
    limit: Option<i64>,
) -> Result<Vec<MessageView>> {
    let mut stmt = conn.prepare_cached(
        "SELECT m.idx, m.type, m.participant_id, p.nickname, p.type, m.text, m.url, m.utc_time
         FROM messages m
         JOIN participants p ON p.chat_rowid = m.chat_rowid AND p.participant_id = m.participant_id
         WHERE m.chat_rowid = ?1 AND m.idx > ?2
         ORDER BY m.idx LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![chat, after, limit.unwrap_or(-1)], |r| {
        Ok(MessageView {
            index: r.get(0)?,
            kind: message_type(r, 1)?,
            from: ParticipantView {
                participant_id: r.get::<_, i64>(2)?.to_string(),
                nickname: r.get(3)?,
                kind: participant_type(r, 4)?,
            },
            text: r.get(5)?,
            url: r.get(6)?,
            utc_time: r.get(7)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn participant_type(r: &Row, i: usize) -> rusqlite::Result<ParticipantType> {
    parsed(r, i, ParticipantType::parse)
}

fn message_type(r: &Row, i: usize) -> rusqlite::Result<MessageType> {
    parsed(r, i, MessageType::parse)
}

/// A column holding one of a domain enum's names (the schema's CHECK constraints keep others out).
fn parsed<T>(r: &Row, i: usize, parse: fn(&str) -> Option<T>) -> rusqlite::Result<T> {
    let value = r.get_ref(i)?;
    let s = value.as_str().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, value.data_type(), Box::new(e))
    })?;
    parse(s).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            i,
            rusqlite::types::Type::Text,
            format!("unexpected value {s:?}").into(),
        )
    })
}
