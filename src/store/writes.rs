//! The write transaction and what can be written through it. The writer thread (`writer.rs`)
//! hands every operation a `WriteTx`; everything that changes a chat goes through a `ChatTx`,
//! which can only be had from the `WriteTx` and records the chat as touched when it is opened.
//! After the commit the writer drops what was touched from the read cache (`cache.rs`), before it
//! answers anyone: a write cannot forget to invalidate.

use std::cell::{Cell, RefCell};

use rusqlite::{params, Connection, OptionalExtension};

use super::views::{ChatSummary, MessageView, ParticipantView};
use super::{Result, StoreError};
use crate::contact_centre::Scenario;
use crate::domain::{ChatId, ChatState, MessageType, ParticipantType, Reader};
use crate::events::{Event, Hub};

/// The customer is always participant 1, the `system` participant 2.
pub const CUSTOMER_ID: i64 = 1;
pub const SYSTEM_ID: i64 = 2;
pub const SYSTEM_NICKNAME: &str = "system";

/// What a committed transaction changed: for the read cache, and for the subscribers of `Hub`.
#[derive(Debug, Default)]
pub(super) struct Effects {
    /// Every chat was changed (a reset).
    pub all: bool,
    /// The rowids of the chats opened for writing.
    pub touched: Vec<i64>,
    /// What to publish once committed: (chat rowid, event), in order.
    pub events: Vec<(i64, Event)>,
    /// Chats deleted (their event streams end).
    pub deleted: Vec<i64>,
}

impl Effects {
    pub fn is_empty(&self) -> bool {
        !self.all && self.touched.is_empty()
    }

    pub fn merge(&mut self, other: Effects) {
        self.all |= other.all;
        self.touched.extend(other.touched);
        self.events.extend(other.events);
        self.deleted.extend(other.deleted);
    }
}

/// One write operation's view of the writer's transaction.
pub struct WriteTx<'c> {
    conn: &'c Connection,
    hub: &'c Hub,
    /// The emulator's time for what is written now.
    now: Cell<i64>,
    /// While a clock advance runs due work: the emulator's time it advances to.
    horizon: Cell<Option<i64>>,
    effects: RefCell<Effects>,
}

/// What RequestChat stores about a new chat.
pub struct NewChat {
    pub nickname: String,
    pub subject: String,
    /// The userData object, serialized as JSON.
    pub user_data: Option<String>,
    pub endpoint: Option<String>,
}

impl<'c> WriteTx<'c> {
    pub(super) fn new(conn: &'c Connection, hub: &'c Hub, now: i64) -> WriteTx<'c> {
        WriteTx {
            conn,
            hub,
            now: Cell::new(now),
            horizon: Cell::new(None),
            effects: RefCell::default(),
        }
    }

    pub(super) fn into_effects(self) -> Effects {
        self.effects.into_inner()
    }

    /// The connection, for reads and for rows that belong to no chat.
    pub fn conn(&self) -> &Connection {
        self.conn
    }

    /// The emulator's time for this operation, in milliseconds since the epoch.
    pub fn now(&self) -> i64 {
        self.now.get()
    }

    /// Runs what follows at `now` (a clock advance steps through due times).
    pub(super) fn set_now(&self, now: i64) {
        self.now.set(now);
    }

    pub(super) fn set_horizon(&self, horizon: Option<i64>) {
        self.horizon.set(horizon);
    }

    fn open(&self, rowid: i64, id: ChatId, row: OpenRow) -> ChatTx<'_> {
        self.effects.borrow_mut().touched.push(rowid);
        ChatTx {
            tx: self,
            rowid,
            id,
            state: Cell::new(state_from_db(&row.state)),
            offset: row.offset,
            bot: Cell::new(row.bot),
        }
    }

    /// Whether a chat `id` is stored.
    pub fn chat_exists(&self, id: &ChatId) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM chats WHERE id = ?1")?
            .query_row([id.as_str()], |_| Ok(()))
            .optional()?
            .is_some())
    }

    /// Opens the chat `id` for writing (404 when there is none).
    pub fn chat(&self, id: &ChatId) -> Result<ChatTx<'_>> {
        let (rowid, row) = self
            .conn
            .prepare_cached("SELECT rowid, state, clock_offset, bot FROM chats WHERE id = ?1")?
            .query_row([id.as_str()], |r| {
                Ok((r.get(0)?, OpenRow { state: r.get(1)?, offset: r.get(2)?, bot: r.get(3)? }))
            })
            .optional()?
            .ok_or_else(|| StoreError::ChatNotFound(id.clone()))?;
        Ok(self.open(rowid, id.clone(), row))
    }

    /// Opens the chat stored at `rowid` for writing (the scheduler's jobs know rowids).
    pub fn chat_at(&self, rowid: i64) -> Result<ChatTx<'_>> {
        let (id, row) = self
            .conn
            .prepare_cached("SELECT id, state, clock_offset, bot FROM chats WHERE rowid = ?1")?
            .query_row([rowid], |r| {
                Ok((r.get(0)?, OpenRow { state: r.get(1)?, offset: r.get(2)?, bot: r.get(3)? }))
            })?;
        Ok(self.open(rowid, ChatId::from_stored(id), row))
    }

    fn publish(&self, rowid: i64, event: impl FnOnce() -> Result<Event>) -> Result<()> {
        if self.hub.wants(rowid) {
            let event = event()?;
            self.effects.borrow_mut().events.push((rowid, event));
        }
        Ok(())
    }

    /// Stores a new chat (`WaitingForAgent`, nobody in it yet, about to run `scenario`, the bot
    /// off until a step turns it on) and opens it for writing.
    pub fn insert_chat(
        &self,
        id: &ChatId,
        new: &NewChat,
        scenario: &Scenario,
    ) -> Result<ChatTx<'_>> {
        let rowid: i64 = self
            .conn
            .prepare_cached(
                "INSERT INTO chats (id, nickname, subject, user_data, endpoint, state, created_at,
                                    last_customer_activity, scenario, scenario_steps, bot)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'WaitingForAgent', ?6, ?6, ?7, ?8, 0) RETURNING rowid",
            )?
            .query_row(
                params![
                    id.as_str(),
                    new.nickname,
                    new.subject,
                    new.user_data,
                    new.endpoint,
                    self.now(),
                    scenario.name,
                    scenario.stored_steps(),
                ],
                |r| r.get(0),
            )?;
        if self.hub.wants_all() {
            let summary = ChatSummary {
                id: id.clone(),
                nickname: new.nickname.clone(),
                subject: new.subject.clone(),
                state: ChatState::WaitingForAgent,
                created: self.now(),
                message_count: 0,
                unread_by_agent: 0,
                scenario: Some(scenario.name.clone()),
            };
            self.effects.borrow_mut().events.push((rowid, Event::Chat(summary)));
        }
        let row =
            OpenRow { state: ChatState::WaitingForAgent.as_str().into(), offset: 0, bot: None };
        Ok(self.open(rowid, id.clone(), row))
    }

    /// Runs `f` in a savepoint of its own: if it fails, what it wrote is rolled back and the
    /// rest of the transaction goes on.
    pub fn attempt<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let published = self.effects.borrow().events.len();
        self.conn.execute_batch("SAVEPOINT attempt")?;
        match f() {
            Ok(v) => {
                self.conn.execute_batch("RELEASE attempt")?;
                Ok(v)
            }
            Err(e) => {
                self.conn.execute_batch("ROLLBACK TO attempt; RELEASE attempt")?;
                self.effects.borrow_mut().events.truncate(published);
                Err(e)
            }
        }
    }

    /// Deletes the chat at `rowid`, and with it its messages, cursors and pending work.
    pub fn delete_chat(&self, rowid: i64) -> Result<()> {
        let mut effects = self.effects.borrow_mut();
        effects.touched.push(rowid);
        effects.deleted.push(rowid);
        drop(effects);
        self.conn.prepare_cached("DELETE FROM chats WHERE rowid = ?1")?.execute([rowid])?;
        Ok(())
    }

    /// Deletes every chat, and with them their messages, cursors and pending work.
    pub fn delete_all_chats(&self) -> Result<usize> {
        self.effects.borrow_mut().all = true;
        Ok(self.conn.execute("DELETE FROM chats", [])?)
    }
}

/// What opening a chat reads of its row.
struct OpenRow {
    state: String,
    offset: i64,
    bot: Option<bool>,
}

/// One chat, opened for writing in a `WriteTx`. Its times are the chat's own: the emulator's
/// time plus the chat's clock offset (`POST /__admin/chats/{id}/clock`).
pub struct ChatTx<'t> {
    tx: &'t WriteTx<'t>,
    pub rowid: i64,
    pub id: ChatId,
    state: Cell<ChatState>,
    /// How far this chat's time is ahead of the emulator's, in ms.
    offset: i64,
    /// Whether the bot's rules answer in this chat (`None`: a chat from before scenarios,
    /// which follows `--agent-mode`).
    bot: Cell<Option<bool>>,
}

impl ChatTx<'_> {
    pub(super) fn conn(&self) -> &Connection {
        self.tx.conn
    }

    /// The chat's time now: the time every message written now carries.
    pub fn now(&self) -> i64 {
        self.tx.now() + self.offset
    }

    /// While a clock advance runs due work: the chat's time it advances to. Recurring work run
    /// in an advance reschedules itself past it (missed ticks are not back-filled).
    pub fn horizon(&self) -> Option<i64> {
        self.tx.horizon.get().map(|h| h + self.offset)
    }

    /// The emulator's time (what `jobs.due_at` holds) of chat time `t`.
    pub(super) fn to_global(&self, t: i64) -> i64 {
        t - self.offset
    }

    /// The chat time of emulator time `t`.
    pub(super) fn to_chat(&self, t: i64) -> i64 {
        t + self.offset
    }

    pub fn state(&self) -> ChatState {
        self.state.get()
    }

    /// Appends one message and returns its index (the chat's next, under the write lock).
    pub fn append(
        &self,
        kind: MessageType,
        participant: i64,
        text: Option<&str>,
        url: Option<&str>,
    ) -> Result<i64> {
        let index: i64 = self
            .conn()
            .prepare_cached(
                "UPDATE chats SET last_index = last_index + 1 WHERE rowid = ?1 RETURNING last_index",
            )?
            .query_row([self.rowid], |r| r.get(0))?;
        self.conn()
            .prepare_cached(
                "INSERT INTO messages (chat_rowid, idx, type, participant_id, text, url, utc_time)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                self.rowid,
                index,
                kind.as_str(),
                participant,
                text,
                url,
                self.now()
            ])?;
        self.tx.publish(self.rowid, || {
            Ok(Event::Message {
                chat: self.id.clone(),
                message: MessageView {
                    index,
                    kind,
                    from: self.participant(participant)?,
                    text: text.map(str::to_string),
                    url: url.map(str::to_string),
                    utc_time: self.now(),
                },
            })
        })?;
        Ok(index)
    }

    /// Participant `id` as messages show it.
    fn participant(&self, id: i64) -> Result<ParticipantView> {
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT nickname, type FROM participants WHERE chat_rowid = ?1 AND participant_id = ?2",
            )?
            .query_row(params![self.rowid, id], |r| {
                Ok(ParticipantView {
                    nickname: r.get(0)?,
                    participant_id: id.to_string(),
                    kind: ParticipantType::parse(r.get_ref(1)?.as_str()?)
                        .unwrap_or(ParticipantType::External),
                })
            })?)
    }

    pub fn set_state(&self, state: ChatState) -> Result<()> {
        self.conn()
            .prepare_cached("UPDATE chats SET state = ?2 WHERE rowid = ?1")?
            .execute(params![self.rowid, state.as_str()])?;
        self.state_changed(state)
    }

    fn state_changed(&self, state: ChatState) -> Result<()> {
        self.state.set(state);
        self.tx.publish(self.rowid, || Ok(Event::State { chat: self.id.clone(), state }))
    }

    /// Adds a participant (not yet announced in the transcript); returns its participant id.
    pub fn add_participant(&self, nickname: &str, kind: ParticipantType) -> Result<i64> {
        Ok(self
            .conn()
            .prepare_cached(
                "INSERT INTO participants (chat_rowid, participant_id, nickname, type, joined_at)
                 SELECT ?1, coalesce(max(participant_id), 0) + 1, ?2, ?3, ?4
                 FROM participants WHERE chat_rowid = ?1
                 RETURNING participant_id",
            )?
            .query_row(params![self.rowid, nickname, kind.as_str(), self.now()], |r| r.get(0))?)
    }

    pub fn mark_left(&self, participant: i64) -> Result<()> {
        self.conn()
            .prepare_cached(
                "UPDATE participants SET left_at = ?3 WHERE chat_rowid = ?1 AND participant_id = ?2",
            )?
            .execute(params![self.rowid, participant, self.now()])?;
        Ok(())
    }

    /// The agent currently in the chat, if any.
    pub fn present_agent(&self) -> Result<Option<i64>> {
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT participant_id FROM participants
                 WHERE chat_rowid = ?1 AND type = 'Agent' AND left_at IS NULL
                 ORDER BY participant_id DESC LIMIT 1",
            )?
            .query_row([self.rowid], |r| r.get(0))
            .optional()?)
    }

    /// The text of message `index` (the bot reads the question it answers).
    pub fn message_text(&self, index: i64) -> Result<Option<String>> {
        Ok(self
            .conn()
            .prepare_cached("SELECT text FROM messages WHERE chat_rowid = ?1 AND idx = ?2")?
            .query_row(params![self.rowid, index], |r| r.get(0))
            .optional()?
            .flatten())
    }

    /// The customer did something: the inactivity timeout counts from now.
    pub fn customer_was_active(&self) -> Result<()> {
        self.conn()
            .prepare_cached("UPDATE chats SET last_customer_activity = ?2 WHERE rowid = ?1")?
            .execute(params![self.rowid, self.now()])?;
        Ok(())
    }

    pub fn last_customer_activity(&self) -> Result<i64> {
        Ok(self
            .conn()
            .prepare_cached("SELECT last_customer_activity FROM chats WHERE rowid = ?1")?
            .query_row([self.rowid], |r| r.get(0))?)
    }

    /// The chat ends: state `Idle`, and all its pending work is cancelled.
    pub fn end(&self) -> Result<()> {
        self.conn()
            .prepare_cached("UPDATE chats SET state = 'Idle', ended_at = ?2 WHERE rowid = ?1")?
            .execute(params![self.rowid, self.now()])?;
        self.state_changed(ChatState::Idle)?;
        self.cancel_all_work()
    }

    /// Closes the chat from the contact centre's side (agent Complete, inactivity): whoever is
    /// still in it leaves, in reverse join order (agent, system, customer), then it ends.
    pub fn close(&self) -> Result<()> {
        let present: Vec<i64> = self
            .conn()
            .prepare_cached(
                "SELECT participant_id FROM participants
                 WHERE chat_rowid = ?1 AND left_at IS NULL ORDER BY participant_id DESC",
            )?
            .query_map([self.rowid], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for participant in present {
            self.append(MessageType::ParticipantLeft, participant, None, None)?;
            self.mark_left(participant)?;
        }
        self.end()
    }

    /// Whether the bot's rules answer here (`None`: as `--agent-mode` says).
    pub fn bot(&self) -> Option<bool> {
        self.bot.get()
    }

    pub fn set_bot(&self, on: bool) -> Result<()> {
        self.conn()
            .prepare_cached("UPDATE chats SET bot = ?2 WHERE rowid = ?1")?
            .execute(params![self.rowid, on])?;
        self.bot.set(Some(on));
        Ok(())
    }

    /// Records the scenario the chat runs from now on, with its steps; the bot is off until a
    /// step turns it on.
    pub fn set_scenario(&self, name: &str, steps: &str) -> Result<()> {
        self.conn()
            .prepare_cached(
                "UPDATE chats SET scenario = ?2, scenario_steps = ?3, bot = 0 WHERE rowid = ?1",
            )?
            .execute(params![self.rowid, name, steps])?;
        self.bot.set(Some(false));
        Ok(())
    }

    /// The steps of the chat's scenario (as stored when the chat picked it).
    pub fn scenario_steps(&self) -> Result<Option<String>> {
        Ok(self
            .conn()
            .prepare_cached("SELECT scenario_steps FROM chats WHERE rowid = ?1")?
            .query_row([self.rowid], |r| r.get(0))?)
    }

    /// The value of a scenario text's `${name}`.
    pub fn substitution(&self, name: &str) -> Result<String> {
        let sql = match name {
            "customer.nickname" => "SELECT nickname FROM chats WHERE rowid = ?1",
            "chat.subject" => "SELECT subject FROM chats WHERE rowid = ?1",
            "lastMessage.text" => {
                "SELECT text FROM messages WHERE chat_rowid = ?1 AND participant_id = 1
                 AND type = 'Text' ORDER BY idx DESC LIMIT 1"
            }
            _ => return Ok(String::new()),
        };
        Ok(self
            .conn()
            .prepare_cached(sql)?
            .query_row([self.rowid], |r| r.get::<_, Option<String>>(0))
            .optional()?
            .flatten()
            .unwrap_or_default())
    }

    /// How far `reader` has read (0 when it has read nothing).
    pub fn read_cursor(&self, reader: Reader) -> Result<i64> {
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT last_read_index FROM read_cursors WHERE chat_rowid = ?1 AND reader = ?2",
            )?
            .query_row(params![self.rowid, reader.as_str()], |r| r.get(0))
            .optional()?
            .unwrap_or(0))
    }
}

pub(super) fn state_from_db(s: &str) -> ChatState {
    // The CHECK constraint keeps other values out of the table.
    ChatState::parse(s).unwrap_or(ChatState::Idle)
}
