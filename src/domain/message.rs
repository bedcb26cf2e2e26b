//! Participants, messages, and the readers whose cursors track what they have received.

use serde::Serialize;

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
    pub const ALL: [MessageType; 7] = [
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

/// Whose read cursor a transcript read moves: the customer's (GetTranscript) or the agent
/// side's (the admin API).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    Customer = 0,
    Agent = 1,
}

impl Reader {
    pub fn as_str(self) -> &'static str {
        match self {
            Reader::Customer => "customer",
            Reader::Agent => "agent",
        }
    }

    pub fn parse(s: &str) -> Option<Reader> {
        [Reader::Customer, Reader::Agent].into_iter().find(|r| r.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for t in MessageType::ALL {
            assert_eq!(MessageType::parse(t.as_str()), Some(t));
        }
        assert_eq!(ParticipantType::parse("Agent"), Some(ParticipantType::Agent));
        assert_eq!(Reader::parse("agent"), Some(Reader::Agent));
    }
}
