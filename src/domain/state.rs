//! A chat's states and what a customer may do in each (the capabilities GetChat lists).

use serde::Serialize;

/// The state of a chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ChatState {
    /// The customer joined and no agent is in the chat (yet, or any more).
    WaitingForAgent,
    /// An agent is in the chat.
    Chatting,
    /// The chat ended: the customer completed it, or the contact centre closed it.
    Idle,
}

impl ChatState {
    pub const ALL: [ChatState; 3] =
        [ChatState::WaitingForAgent, ChatState::Chatting, ChatState::Idle];

    pub fn as_str(self) -> &'static str {
        match self {
            ChatState::WaitingForAgent => "WaitingForAgent",
            ChatState::Chatting => "Chatting",
            ChatState::Idle => "Idle",
        }
    }

    pub fn parse(s: &str) -> Option<ChatState> {
        ChatState::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// The operations a customer may perform in this state. GetChat and GetTranscript are not
    /// listed: they work in every state.
    pub fn capabilities(self) -> &'static [Operation] {
        const OPEN: &[Operation] = &[
            Operation::SendMessage,
            Operation::SendStartTypingNotification,
            Operation::SendStopTypingNotification,
            Operation::Complete,
        ];
        match self {
            ChatState::WaitingForAgent | ChatState::Chatting => OPEN,
            ChatState::Idle => &[],
        }
    }

    pub fn allows(self, op: Operation) -> bool {
        self.capabilities().contains(&op)
    }

    /// The capabilities by name, as GetChat shows them.
    pub fn capability_names(self) -> Vec<&'static str> {
        self.capabilities().iter().map(|op| op.as_str()).collect()
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
    pub const ALL: [Operation; 5] = [
        Operation::RequestChat,
        Operation::SendMessage,
        Operation::SendStartTypingNotification,
        Operation::SendStopTypingNotification,
        Operation::Complete,
    ];

    pub fn parse(name: &str) -> Option<Operation> {
        Operation::ALL.into_iter().find(|op| op.as_str() == name)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_chats_have_no_capabilities() {
        assert!(ChatState::Idle.capabilities().is_empty());
        for st in [ChatState::WaitingForAgent, ChatState::Chatting] {
            assert!(st.allows(Operation::SendMessage));
            assert!(st.allows(Operation::Complete));
            assert!(!st.allows(Operation::RequestChat));
        }
    }

    #[test]
    fn names_round_trip() {
        for st in ChatState::ALL {
            assert_eq!(ChatState::parse(st.as_str()), Some(st));
        }
        for op in Operation::ALL {
            assert_eq!(Operation::parse(op.as_str()), Some(op));
        }
        assert_eq!(Operation::parse("complete"), None);
    }
}
