//! The web client and the agent console in a real browser (headless Debian Chromium through
//! chromedriver): a customer chat with the bot, the agent console and the widget talking to each
//! other in manual mode, the XSS message, reload-resume, and the server restarting under a polling
//! widget. Screenshots land in target/tmp/screenshots/.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::helpers::{texts, Server};
use crate::webdriver::{Browser, Line, ENTER};
use serde_json::{json, Value};

fn url(server: &Server, path: &str) -> String {
    format!("http://127.0.0.1:{}{path}", server.port)
}

fn state(b: &Browser, css: &str) -> String {
    b.attr(css, "data-state").unwrap_or_default()
}

fn wait_state(b: &Browser, css: &str, want: &str) {
    b.wait_until(&format!("{css} to show {want}"), || state(b, css) == want);
}

/// The chat id the widget keeps in localStorage.
fn stored_chat_id(b: &Browser) -> Option<String> {
    let v = b.exec("return localStorage.getItem('gws-emulator.chat');", json!([]));
    let stored: Value = serde_json::from_str(v.as_str()?).ok()?;
    stored["id"].as_str().map(str::to_string)
}

/// Fills the widget's form and starts a chat; returns its id.
fn start_chat(b: &Browser, server: &Server, nickname: &str, subject: &str) -> String {
    b.goto(&url(server, "/"));
    b.wait_until("the widget's form", || b.visible("#nickname"));
    b.type_into("#nickname", nickname);
    b.type_into("#subject", subject);
    b.click("#start");
    b.wait_until("a chat id in localStorage", || stored_chat_id(b).is_some());
    stored_chat_id(b).unwrap()
}

/// Asserts every line appears once, in index order.
#[track_caller]
fn assert_no_doubles(lines: &[Line]) {
    let idx: Vec<i64> = lines.iter().map(|l| l.index).collect();
    let unique: BTreeSet<i64> = idx.iter().copied().collect();
    assert_eq!(idx.len(), unique.len(), "a line is doubled: {lines:#?}");
    assert!(idx.windows(2).all(|w| w[0] < w[1]), "lines out of order: {lines:#?}");
}

/// The indexes of the server's transcript that a view shows as lines (all but typing).
fn shown_indexes(all: &[Value]) -> Vec<i64> {
    all.iter()
        .filter(|m| m["type"] != "TypingStarted" && m["type"] != "TypingStopped")
        .map(|m| m["index"].as_i64().unwrap())
        .collect()
}

/// Types `text` into `input` and presses Enter, as a person sends a message.
fn send_with_enter(b: &Browser, input: &str, text: &str) {
    b.type_into(input, text);
    b.type_into(input, ENTER);
}

fn has_line(lines: &[Line], kind: &str, from: &str, text: &str) -> bool {
    lines.iter().any(|l| l.kind == kind && l.from == from && l.text.contains(text))
}

#[test]
fn a_customer_chats_with_the_bot_in_the_widget() {
    let server = Server::builder().arg("--agent-join-delay", "400ms..600ms").start();
    let Some(b) = Browser::launch() else { return };
    let id = start_chat(&b, &server, "James", "Question about relativity");

    wait_state(&b, "#state", "Chatting");
    assert!(b.text("#state").contains("Kate"), "names the agent: {}", b.text("#state"));
    send_with_enter(&b, "#message", "Are you there?");
    b.wait_until("the bot's answer", || {
        has_line(&b.lines("#transcript"), "Text", "Agent", "Good question...")
    });
    let lines = b.lines("#transcript");
    assert!(has_line(&lines, "Text", "Customer", "Are you there?"));
    assert!(has_line(&lines, "ParticipantJoined", "Agent", "Kate"));
    assert_no_doubles(&lines);
    assert_eq!(b.exec("return document.querySelector('#message').value;", json!([])), "");

    // The widget sent typing notifications as the customer typed.
    let all = server.all_messages(&id);
    assert!(all.iter().any(|m| m["type"] == "TypingStarted" && m["from"]["type"] == "Customer"));
    assert_eq!(texts(&all, "Text").iter().filter(|t| *t == "Are you there?").count(), 1);
    // Every message the server holds (but typing) is a line, once.
    b.wait_until("the widget to catch up", || {
        let shown: Vec<i64> = b.lines("#transcript").iter().map(|l| l.index).collect();
        shown == shown_indexes(&server.all_messages(&id))
    });
    b.screenshot("widget-chatting");

    b.click("#end");
    wait_state(&b, "#state", "Idle");
    assert_eq!(server.state(&id), "Idle");
    assert_eq!(b.exec("return document.querySelector('#message').disabled;", json!([])), true);
    assert_eq!(stored_chat_id(&b), None, "an ended chat is forgotten");
    b.screenshot("widget-ended");
}

#[test]
fn the_agent_console_and_the_widget_talk_to_each_other() {
    let server = Server::manual();
    let Some(customer) = Browser::launch() else { return };
    let Some(agent) = Browser::launch() else { return };
    let id = start_chat(&customer, &server, "Grace", "My order is late");
    wait_state(&customer, "#state", "WaitingForAgent");

    agent.goto(&url(&server, "/client/agent.html"));
    let item = format!("#chats [data-chat-id=\"{id}\"]");
    agent.wait_until("the chat in the console's list", || agent.exists(&item));
    assert!(agent.text(&item).contains("Grace"));
    agent.click(&item);
    agent.wait_until("the chat to open", || state(&agent, "#agent-state") == "WaitingForAgent");
    agent.clear("#agent-nickname");
    agent.type_into("#agent-nickname", "Ann");
    agent.click("#join");
    wait_state(&customer, "#state", "Chatting");
    assert!(customer.text("#state").contains("Ann"));
    wait_state(&agent, "#agent-state", "Chatting");

    // The agent types: the customer sees the typing indicator, then the message.
    agent.type_into("#agent-message", "Hello Grace, let me check that for you.");
    customer.wait_until("the typing indicator", || customer.visible("#typing"));
    assert!(customer.text("#typing").contains("Ann"), "{}", customer.text("#typing"));
    agent.type_into("#agent-message", ENTER);
    customer.wait_until("the agent's message", || {
        has_line(&customer.lines("#transcript"), "Text", "Agent", "let me check that")
    });
    customer.wait_until("the typing indicator to go", || !customer.visible("#typing"));

    customer.type_into("#message", "Order 1234, thank you.");
    customer.click("#send");
    agent.wait_until("the customer's message in the console", || {
        has_line(&agent.lines("#agent-transcript"), "Text", "Customer", "Order 1234")
    });

    agent.type_into("#push-url-value", "https://example.com/track?order=1234");
    agent.click("#push-url");
    customer.wait_until("the pushed link", || {
        customer.exists(
            "#transcript li[data-type=PushUrl] a[href='https://example.com/track?order=1234']",
        )
    });
    agent.type_into("#notice-text", "Your order ships today.");
    agent.click("#notice");
    customer.wait_until("the notice", || {
        has_line(&customer.lines("#transcript"), "Notice", "Agent", "ships today")
    });
    agent.wait_until("the console to show its own lines", || {
        has_line(&agent.lines("#agent-transcript"), "Notice", "Agent", "ships today")
    });
    assert_no_doubles(&customer.lines("#transcript"));
    assert_no_doubles(&agent.lines("#agent-transcript"));
    customer.screenshot("widget-with-agent");
    agent.screenshot("agent-console");

    agent.click("#leave");
    wait_state(&customer, "#state", "WaitingForAgent");
    agent.wait_until("join to be possible again", || {
        agent.exec("return !document.querySelector('#join').disabled;", json!([])) == json!(true)
    });
    agent.click("#join");
    wait_state(&customer, "#state", "Chatting");
    agent.click("#complete");
    wait_state(&customer, "#state", "Idle");
    wait_state(&agent, "#agent-state", "Idle");
    assert_eq!(server.state(&id), "Idle");
}

#[test]
fn markup_in_messages_is_shown_as_text_and_never_runs() {
    let server = Server::manual();
    let Some(customer) = Browser::launch() else { return };
    let id = start_chat(&customer, &server, "<b>Mallory</b>", "<i>subject</i>");
    let evil = "<img src=x onerror=alert(1)>";
    let evil2 = "<img src=x onerror=\"window.__xss=1\"><script>window.__xss=2</script>";
    send_with_enter(&customer, "#message", evil);
    server.agent(&id, json!({"action": "join", "nickname": "<svg onload=window.__xss=3>"}));
    server.agent(&id, json!({"action": "message", "text": evil2}));
    server.agent(
        &id,
        json!({"action": "notice", "text": "<a href=javascript:window.__xss=4>click</a>"}),
    );
    customer.wait_until("the agent's message", || {
        has_line(&customer.lines("#transcript"), "Text", "Agent", "<script>")
    });
    customer.wait_until("the notice", || {
        has_line(&customer.lines("#transcript"), "Notice", "Agent", "<a href")
    });

    let lines = customer.lines("#transcript");
    assert!(has_line(&lines, "Text", "Customer", evil), "shown literally: {lines:#?}");
    assert!(has_line(&lines, "Text", "Agent", evil2));
    let injected = customer.exec(
        "return document.querySelectorAll('#transcript img, #transcript script, #transcript svg, \
         #transcript b, #transcript a[href^=javascript], #state svg').length;",
        json!([]),
    );
    assert_eq!(injected, 0, "no markup from a message became an element");
    assert_eq!(customer.exec("return window.__xss === undefined;", json!([])), true);

    // The agent console renders the same messages as text too.
    let Some(agent) = Browser::launch() else { return };
    agent.goto(&url(&server, "/client/agent.html"));
    let item = format!("#chats [data-chat-id=\"{id}\"]");
    agent.wait_until("the chat in the list", || agent.exists(&item));
    assert!(agent.text(&item).contains("<b>Mallory</b>"));
    agent.click(&item);
    agent.wait_until("the transcript", || {
        has_line(&agent.lines("#agent-transcript"), "Text", "Customer", evil)
    });
    let injected = agent.exec(
        "return document.querySelectorAll('#agent-transcript img, #agent-transcript script, \
         #chats b, #chats i').length;",
        json!([]),
    );
    assert_eq!(injected, 0);
    assert_eq!(agent.exec("return window.__xss === undefined;", json!([])), true);
}

#[test]
fn a_reload_resumes_the_same_chat_until_it_ends() {
    let server = Server::builder().arg("--agent-join-delay", "100ms").start();
    let Some(b) = Browser::launch() else { return };
    let id = start_chat(&b, &server, "Ada", "Resume me");
    wait_state(&b, "#state", "Chatting");
    send_with_enter(&b, "#message", "First question?");
    b.wait_until("the answer", || {
        has_line(&b.lines("#transcript"), "Text", "Agent", "Good question...")
    });
    let before = b.lines("#transcript");

    b.refresh();
    b.wait_until("the transcript to come back", || b.lines("#transcript").len() >= before.len());
    assert_eq!(stored_chat_id(&b).as_deref(), Some(id.as_str()), "the same chat");
    wait_state(&b, "#state", "Chatting");
    let after = b.lines("#transcript");
    assert_eq!(&after[..before.len()], &before[..], "the same lines, once each");
    assert_no_doubles(&after);
    assert!(!b.visible("#chat-form"), "no new-chat form while the chat goes on");

    send_with_enter(&b, "#message", "Second one!");
    b.wait_until("the second answer", || {
        has_line(&b.lines("#transcript"), "Text", "Agent", "Neat.")
    });
    assert_no_doubles(&b.lines("#transcript"));
    assert_eq!(server.all_messages(&id).iter().filter(|m| m["text"] == "Second one!").count(), 1);

    b.click("#end");
    wait_state(&b, "#state", "Idle");
    b.refresh();
    b.wait_until("the form for a new chat", || b.visible("#nickname"));
    assert_eq!(stored_chat_id(&b), None);
}

#[test]
fn the_widget_reconnects_when_the_server_comes_back() {
    let mut server = Server::manual();
    let Some(b) = Browser::launch() else { return };
    let id = start_chat(&b, &server, "Ada", "Flaky network");
    server.agent(&id, json!({"action": "join", "nickname": "Ann"}));
    wait_state(&b, "#state", "Chatting");
    assert!(!b.visible("#connection"));

    server.stop();
    b.wait_until("the reconnecting note", || b.visible("#connection"));
    assert!(
        b.text("#connection").to_lowercase().contains("reconnecting"),
        "{}",
        b.text("#connection")
    );
    b.screenshot("widget-reconnecting");

    server.start_again_on_same_port();
    server.agent(&id, json!({"action": "message", "text": "Sorry, we were away."}));
    b.wait_until_for("the message after the restart", Duration::from_secs(30), || {
        has_line(&b.lines("#transcript"), "Text", "Agent", "we were away")
    });
    b.wait_until("the note to go", || !b.visible("#connection"));
    let lines = b.lines("#transcript");
    assert_no_doubles(&lines);
    let shown: Vec<i64> = lines.iter().map(|l| l.index).collect();
    assert_eq!(shown, shown_indexes(&server.all_messages(&id)), "nothing lost, nothing doubled");
}

#[test]
fn the_widget_fits_a_phone_and_is_labelled_for_screen_readers() {
    let server = Server::builder().arg("--agent-join-delay", "100ms").start();
    let Some(b) = Browser::launch_sized(390, 844) else { return };
    b.goto(&url(&server, "/client/"));
    b.wait_until("the form", || b.visible("#nickname"));
    let labelled = b.exec(
        "return ['nickname', 'subject'].every(id => document.querySelector('label[for=' + id + ']'));",
        json!([]),
    );
    assert_eq!(labelled, true, "the form's inputs have labels");
    b.screenshot("widget-phone-form");
    let id = start_chat(&b, &server, "Ada", "On the go");
    wait_state(&b, "#state", "Chatting");
    send_with_enter(&b, "#message", "Hello from a phone");
    b.wait_until("the answer", || {
        has_line(&b.lines("#transcript"), "Text", "Agent", "to you too!")
    });
    let fits =
        b.exec("return document.documentElement.scrollWidth <= window.innerWidth;", json!([]));
    assert_eq!(fits, true, "no horizontal scrolling at phone width");
    assert!(b.attr("#transcript", "aria-live").is_some(), "new messages are announced");
    assert!(
        b.exec("return !!document.querySelector('label[for=message]') || !!document.querySelector('#message').getAttribute('aria-label');", json!([])) == json!(true),
        "the message input is labelled"
    );
    b.screenshot("widget-phone-chat");
    assert_eq!(server.state(&id), "Chatting");
}
