//! The chat operations, each one write transaction: check the operation against the chat's
//! capabilities, append to the transcript, and let the contact centre react (schedule its work).
//! A refused operation changes nothing: its savepoint is rolled back.

use std::sync::Arc;

use super::writes::{NewChat, WriteTx, CUSTOMER_ID, SYSTEM_ID, SYSTEM_NICKNAME};
use super::{Result, Store, StoreError};
use crate::contact_centre::{ContactCentre, Scenario};
use crate::domain::{ChatId, ChatState, MessageType, Operation, ParticipantType, Reader};

/// What a customer can do to a chat through `POST /api/v2/chats/{id}`.
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

impl Store {
    /// RequestChat: the customer and the system participant join; the contact centre schedules
    /// its work and starts `scenario`. Returns the new chat's id.
    pub async fn request_chat(&self, new: NewChat, scenario: Arc<Scenario>) -> Result<ChatId> {
        let centre = self.centre().clone();
        self.write(move |tx| request_chat(tx, &centre, &new, &scenario)).await
    }

    /// Switches chat `id` to `scenario` (admin API).
    pub async fn switch_scenario(&self, id: &ChatId, scenario: Arc<Scenario>) -> Result<()> {
        let (centre, id) = (self.centre().clone(), id.clone());
        self.write(move |tx| centre.switch_scenario(&tx.chat(&id)?, &scenario)).await
    }

    /// SendMessage, SendStartTypingNotification, SendStopTypingNotification, Complete.
    pub async fn customer_action(&self, id: &ChatId, action: CustomerAction) -> Result<()> {
        let (centre, id) = (self.centre().clone(), id.clone());
        self.write(move |tx| customer_action(tx, &centre, &id, &action)).await
    }

    /// Acts as the agent (admin API), with the same capability rules as the customer API.
    pub async fn agent_action(&self, id: &ChatId, action: AgentAction) -> Result<()> {
        let (centre, id) = (self.centre().clone(), id.clone());
        self.write(move |tx| agent_action(tx, &centre, &id, &action)).await
    }

    /// Adds or replaces a run-time scenario (table `scenarios`).
    pub async fn put_scenario(&self, name: String, document: String) -> Result<()> {
        self.write(move |tx| {
            tx.conn()
                .prepare_cached(
                    "INSERT INTO scenarios (name, document, updated_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (name) DO UPDATE SET document = excluded.document,
                                                      updated_at = excluded.updated_at",
                )?
                .execute(rusqlite::params![name, document, crate::clock::wall_ms()])?;
            Ok(())
        })
        .await
    }

    /// Removes a run-time scenario; whether there was one.
    pub async fn delete_scenario(&self, name: String) -> Result<bool> {
        self.write(move |tx| {
            Ok(tx
                .conn()
                .prepare_cached("DELETE FROM scenarios WHERE name = ?1")?
                .execute([name])?
                > 0)
        })
        .await
    }

    /// Deletes every chat (and with them their messages, cursors and pending work).
    pub async fn delete_all_chats(&self) -> Result<usize> {
        self.write(|tx| tx.delete_all_chats()).await
    }
}

fn request_chat(
    tx: &WriteTx,
    centre: &ContactCentre,
    new: &NewChat,
    scenario: &Scenario,
) -> Result<ChatId> {
    // A seeded generator restarted on the same database draws the ids it drew before: skip them.
    let mut id = centre.new_chat_id();
    while tx.chat_exists(&id)? {
        id = centre.new_chat_id();
    }
    let chat = tx.insert_chat(&id, new, scenario)?;
    let customer = chat.add_participant(&new.nickname, ParticipantType::Customer)?;
    let system = chat.add_participant(SYSTEM_NICKNAME, ParticipantType::External)?;
    debug_assert_eq!((customer, system), (CUSTOMER_ID, SYSTEM_ID));
    chat.append(MessageType::ParticipantJoined, customer, None, None)?;
    chat.append(MessageType::ParticipantJoined, system, None, None)?;
    for reader in [Reader::Customer, Reader::Agent] {
        chat.move_cursor(reader, 0)?;
    }
    centre.chat_requested(&chat, scenario)?;
    Ok(id)
}

fn customer_action(
    tx: &WriteTx,
    centre: &ContactCentre,
    id: &ChatId,
    action: &CustomerAction,
) -> Result<()> {
    let chat = tx.chat(id)?;
    let op = action.operation();
    if !chat.state().allows(op) {
        return Err(StoreError::NotAllowed(format!(
            "{} is not possible in state {}: the chat has ended; request a new chat",
            op.as_str(),
            chat.state().as_str()
        )));
    }
    match action {
        CustomerAction::SendMessage(text) => {
            let index = chat.append(MessageType::Text, CUSTOMER_ID, Some(text), None)?;
            centre.customer_wrote(&chat, index, text)?;
        }
        CustomerAction::StartTyping => {
            chat.append(MessageType::TypingStarted, CUSTOMER_ID, None, None)?;
        }
        CustomerAction::StopTyping => {
            chat.append(MessageType::TypingStopped, CUSTOMER_ID, None, None)?;
        }
        CustomerAction::Complete => {
            chat.append(MessageType::ParticipantLeft, CUSTOMER_ID, None, None)?;
            chat.mark_left(CUSTOMER_ID)?;
            chat.end()?;
        }
    }
    chat.customer_was_active()
}

fn agent_action(
    tx: &WriteTx,
    centre: &ContactCentre,
    id: &ChatId,
    action: &AgentAction,
) -> Result<()> {
    let chat = tx.chat(id)?;
    let name = action.name();
    if chat.state() == ChatState::Idle {
        return Err(StoreError::NotAllowed(format!(
            "agent action {name} is not possible: the chat is Idle (it has ended)"
        )));
    }
    let agent = chat.present_agent()?;
    let need_agent = || {
        agent.ok_or_else(|| {
            StoreError::NotAllowed(format!(
                "agent action {name} needs an agent in the chat; join first (action \"join\")"
            ))
        })
    };
    match action {
        AgentAction::Join { nickname } => centre.agent_joins(&chat, nickname)?,
        AgentAction::Message(text) => {
            chat.append(MessageType::Text, need_agent()?, Some(text), None)?;
        }
        AgentAction::TypingStarted => {
            chat.append(MessageType::TypingStarted, need_agent()?, None, None)?;
        }
        AgentAction::TypingStopped => {
            chat.append(MessageType::TypingStopped, need_agent()?, None, None)?;
        }
        AgentAction::PushUrl(url) => {
            chat.append(MessageType::PushUrl, need_agent()?, None, Some(url))?;
        }
        AgentAction::Notice(text) => {
            chat.append(MessageType::Notice, need_agent()?, Some(text), None)?;
        }
        AgentAction::Leave => centre.agent_leaves(&chat, need_agent()?)?,
        AgentAction::Complete => chat.close()?,
    }
    Ok(())
}
