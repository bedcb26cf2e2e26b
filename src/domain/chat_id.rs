//! A chat's id, parsed once: handlers never see an unchecked one.

use std::fmt;

use serde::Serialize;

/// A chat id: a version 4 UUID in its lowercase hyphenated form, as RequestChat hands it out.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ChatId(String);

/// A chat id that cannot name a chat (not a hyphenated UUID): the API answers 404/6 for it, like
/// for any unknown chat. Carries what was given, cut to 64 characters, for the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("chat {0:?} not found; use the id returned by RequestChat")]
pub struct UnknownChat(pub String);

impl ChatId {
    /// A UUID in its hyphenated form (any case), normalized to lowercase. Other spellings
    /// (`{…}`, `urn:uuid:…`, no hyphens) name no chat.
    pub fn parse(raw: &str) -> Result<ChatId, UnknownChat> {
        let unknown = || UnknownChat(raw.chars().take(64).collect());
        if raw.len() != 36 {
            return Err(unknown());
        }
        uuid::Uuid::try_parse(raw)
            .map(|u| ChatId(u.hyphenated().to_string()))
            .map_err(|_| unknown())
    }

    /// A new id from 16 random bytes (a version 4 UUID).
    pub fn from_random_bytes(bytes: [u8; 16]) -> ChatId {
        ChatId(uuid::Builder::from_random_bytes(bytes).into_uuid().hyphenated().to_string())
    }

    /// An id read back from the database, where only parsed ids are written.
    pub fn from_stored(id: String) -> ChatId {
        ChatId(id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ChatId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for ChatId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hyphenated_uuids_are_chat_ids() {
        let id = ChatId::parse("5B0C3E9A-1C2D-4E5F-8A9B-0C1D2E3F4A5B").unwrap();
        assert_eq!(id.as_str(), "5b0c3e9a-1c2d-4e5f-8a9b-0c1d2e3f4a5b");
        for bad in [
            "",
            "nope",
            "5b0c3e9a1c2d4e5f8a9b0c1d2e3f4a5b",
            "{5b0c3e9a-1c2d-4e5f-8a9b-0c1d2e3f4a5b}",
            "urn:uuid:5b0c3e9a-1c2d-4e5f-8a9b-0c1d2e3f4a5b",
            "5b0c3e9a-1c2d-4e5f-8a9b-0c1d2e3f4a5g",
        ] {
            assert!(ChatId::parse(bad).is_err(), "{bad:?}");
        }
        let long = "x".repeat(10_000);
        assert_eq!(ChatId::parse(&long).unwrap_err().0.chars().count(), 64);
    }

    #[test]
    fn new_ids_are_version_4() {
        let id = ChatId::from_random_bytes([7; 16]);
        assert_eq!(uuid::Uuid::parse_str(id.as_str()).unwrap().get_version_num(), 4);
        assert_eq!(ChatId::parse(id.as_str()).unwrap(), id);
    }
}
