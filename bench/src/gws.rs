//! The GWS chat API as the cases use it: the requests they send, and reading a transcript.

use crate::client;

const SEND_BODY: &str = r#"{"operationName":"SendMessage","text":"Is my order on its way?"}"#;
const REQUEST_CHAT_BODY: &str =
    r#"{"operationName":"RequestChat","nickname":"Bench","subject":"Load test"}"#;

/// GetTranscript: the messages the customer has not read (none, in the seeded databases).
pub fn transcript(host: &str, chat: &str) -> Vec<u8> {
    client::get(host, &format!("/api/v2/chats/{chat}/messages"))
}

/// GetTranscript from message `index` on, as `client/widget.js` polls.
pub fn transcript_from(host: &str, chat: &str, index: i64) -> Vec<u8> {
    client::get(host, &format!("/api/v2/chats/{chat}/messages?index={index}"))
}

/// GetChat.
pub fn chat(host: &str, chat: &str) -> Vec<u8> {
    client::get(host, &format!("/api/v2/chats/{chat}"))
}

/// SendMessage, always the same text.
pub fn send_message(host: &str, chat: &str) -> Vec<u8> {
    client::post(host, &format!("/api/v2/chats/{chat}"), SEND_BODY)
}

/// RequestChat.
pub fn request_chat(host: &str) -> Vec<u8> {
    client::post(host, "/api/v2/chats", REQUEST_CHAT_BODY)
}

/// The newest message index in a GetTranscript answer, and how many messages it had.
pub fn newest_index(body: &[u8]) -> Result<Option<(i64, u64)>, String> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| "bad transcript: not JSON".to_string())?;
    if v["statusCode"] != 0 {
        return Err("bad transcript: statusCode not 0".into());
    }
    let messages = v["messages"].as_array().ok_or("bad transcript: no messages array")?;
    let newest = messages.iter().filter_map(|m| m["index"].as_i64()).max();
    Ok(newest.map(|n| (n, messages.len() as u64)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transcripts_give_their_newest_index() {
        let body = br#"{"messages":[{"index":6},{"index":7}],"statusCode":0}"#;
        assert_eq!(newest_index(body).unwrap(), Some((7, 2)));
        assert_eq!(newest_index(br#"{"messages":[],"statusCode":0}"#).unwrap(), None);
        assert!(newest_index(b"nope").is_err());
    }
}
