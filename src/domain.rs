//! The chat's vocabulary: states, capabilities, participant and message types, and the bot's
//! reply rule. Pure code, no I/O, so every rule of SPEC.md section 1 and 2 is unit-tested here.

use serde::Serialize;

/// The state of a chat (SPEC.md "States and capabilities").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum State {
    WaitingForAgent,
    Chatting,
    Idle,
}

impl State {
    pub const ALL: [State; 3] = [State::WaitingForAgent, State::Chatting, State::Idle];

    pub fn as_str(self) -> &'static str {
        match self {
            State::WaitingForAgent => "WaitingForAgent",
            State::Chatting => "Chatting",
            State::Idle => "Idle",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        State::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// The operations a customer may perform in this state.
    pub fn capabilities(self) -> &'static [Operation] {
        const OPEN: &[Operation] = &[
            Operation::SendMessage,
            Operation::SendStartTypingNotification,
            Operation::SendStopTypingNotification,
            Operation::Complete,
        ];
        match self {
            State::WaitingForAgent | State::Chatting => OPEN,
            State::Idle => &[],
        }
    }

    pub fn allows(self, op: Operation) -> bool {
        self.capabilities().contains(&op)
    }
}

/// A customer operation posted to `/api/v2/chats/{id}` (RequestChat goes to `/api/v2/chats`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Operation {
    RequestChat,
    SendMessage,
    SendStartTypingNotification,
    SendStopTypingNotification,
    Complete,
}

impl Operation {
    pub fn parse(name: &str) -> Option<Operation> {
        Some(match name {
            "RequestChat" => Operation::RequestChat,
            "SendMessage" => Operation::SendMessage,
            "SendStartTypingNotification" => Operation::SendStartTypingNotification,
            "SendStopTypingNotification" => Operation::SendStopTypingNotification,
            "Complete" => Operation::Complete,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Operation::RequestChat => "RequestChat",
            Operation::SendMessage => "SendMessage",
            Operation::SendStartTypingNotification => "SendStartTypingNotification",
            Operation::SendStopTypingNotification => "SendStopTypingNotification",
            Operation::Complete => "Complete",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ParticipantType {
    Customer,
    Agent,
    External,
}

impl ParticipantType {
    pub fn as_str(self) -> &'static str {
        match self {
            ParticipantType::Customer => "Customer",
            ParticipantType::Agent => "Agent",
            ParticipantType::External => "External",
        }
    }

    pub fn parse(s: &str) -> Option<ParticipantType> {
        [Self::Customer, Self::Agent, Self::External].into_iter().find(|t| t.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum MessageType {
    Text,
    ParticipantJoined,
    ParticipantLeft,
    TypingStarted,
    TypingStopped,
    PushUrl,
    Notice,
}

impl MessageType {
    const ALL: [MessageType; 7] = [
        MessageType::Text,
        MessageType::ParticipantJoined,
        MessageType::ParticipantLeft,
        MessageType::TypingStarted,
        MessageType::TypingStopped,
        MessageType::PushUrl,
        MessageType::Notice,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MessageType::Text => "Text",
            MessageType::ParticipantJoined => "ParticipantJoined",
            MessageType::ParticipantLeft => "ParticipantLeft",
            MessageType::TypingStarted => "TypingStarted",
            MessageType::TypingStopped => "TypingStopped",
            MessageType::PushUrl => "PushUrl",
            MessageType::Notice => "Notice",
        }
    }

    pub fn parse(s: &str) -> Option<MessageType> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// Who drives the agent side: the built-in bot, or a person through the admin API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentMode {
    Bot,
    Manual,
}

/// The bot's answer to a customer's text (SPEC.md section 2, "Agent replies").
pub fn bot_reply(text: &str) -> String {
    let trimmed = text.trim();
    match trimmed.chars().last() {
        Some('!') => "Neat.".to_string(),
        Some('?') => "Good question...".to_string(),
        Some('.') => "Ok.".to_string(),
        _ => format!("{trimmed} to you too!"),
    }
}

/// The texts the `system` participant posts every system-message interval, in turn.
pub const SYSTEM_MESSAGES: &[&str] = &[
    "Thank you for waiting. Your chat is important to us.",
    "This chat is handled by the GWS emulator; no real agent is involved.",
    "You can end this chat at any time.",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_follows_the_last_character_of_the_trimmed_text() {
        assert_eq!(bot_reply("Wow!"), "Neat.");
        assert_eq!(bot_reply("Are you there?"), "Good question...");
        assert_eq!(bot_reply("I see.  "), "Ok.");
        assert_eq!(bot_reply("  Hello "), "Hello to you too!");
        assert_eq!(bot_reply("Привет 👋"), "Привет 👋 to you too!");
    }

    #[test]
    fn idle_chats_have_no_capabilities() {
        assert!(State::Idle.capabilities().is_empty());
        for st in [State::WaitingForAgent, State::Chatting] {
            assert!(st.allows(Operation::SendMessage));
            assert!(st.allows(Operation::Complete));
            assert!(!st.allows(Operation::RequestChat));
        }
    }

    #[test]
    fn names_round_trip() {
        for st in State::ALL {
            assert_eq!(State::parse(st.as_str()), Some(st));
        }
        for t in MessageType::ALL {
            assert_eq!(MessageType::parse(t.as_str()), Some(t));
        }
        assert_eq!(Operation::parse("Complete"), Some(Operation::Complete));
        assert_eq!(Operation::parse("complete"), None);
        assert_eq!(ParticipantType::parse("Agent"), Some(ParticipantType::Agent));
    }
}
