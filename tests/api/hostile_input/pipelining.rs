//! A request pipelined behind one with `Connection: close` on the same connection.

use crate::helpers::{preview, read_until_close, wire, Server};

use super::{assert_still_healthy, QUICK};

#[test]
fn a_request_pipelined_behind_connection_close_is_never_run() {
    // RFC 9112 9.6: after a request with `Connection: close` the server "MUST NOT process any
    // further requests received on that connection". Here the next request would end the chat.
    let server = Server::manual();
    let id = server.request_chat("James");
    let before = server.admin_chat(&id);
    let complete = r#"{"operationName":"Complete"}"#;
    let smuggled =
        String::from_utf8(wire("POST", &format!("/api/v2/chats/{id}"), &[], complete.as_bytes()))
            .unwrap();
    let mut failures = Vec::new();
    for first in [
        wire("GET", &format!("/api/v2/chats/{id}"), &[], b""),
        wire("POST", &format!("/api/v2/chats/{id}"), &[], b"{}"),
    ] {
        let raw = [first.as_slice(), smuggled.as_bytes()].concat();
        // Read to the end: the server closes after its last answer, so whatever it ran is done.
        let all = read_until_close(server.port, &raw, QUICK).expect("an answer");
        let answers = all.windows(9).filter(|w| w == b"HTTP/1.1 ").count();
        let after = server.admin_chat(&id);
        if after != before {
            failures.push(format!(
                "sent: {}\n    {answers} answers came back and the chat is now {}: {}",
                preview(&raw),
                after["state"],
                preview(&all)
            ));
            break;
        }
    }
    assert_still_healthy(&server);
    assert!(
        failures.is_empty(),
        "a request after Connection: close was run:\n{}",
        failures.join("\n")
    );
}
