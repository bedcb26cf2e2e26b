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

// ---- the agent console on the admin API's event streams, token, scenarios and journal ----

/// The admin list entry of a chat (through the admin API, with a token when given).
fn admin_summary(server: &Server, id: &str, token: Option<&str>) -> Value {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> =
        bearer.as_deref().map(|b| vec![("Authorization", b)]).unwrap_or_default();
    let res = server.request("GET", "/__admin/chats", &headers, b"");
    assert_eq!(res.status, 200, "admin list: {}", res.text());
    res.json()["chats"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("chat {id} in the admin list"))
}

/// Opens the console and the chat `id` in it; waits until its whole transcript is shown.
fn open_in_console(agent: &Browser, server: &Server, id: &str) {
    agent.goto(&url(server, "/client/agent.html"));
    let item = format!("#chats [data-chat-id=\"{id}\"]");
    agent.wait_until("the chat in the console's list", || agent.exists(&item));
    agent.click(&item);
    wait_console_caught_up(agent, server, id);
}

/// Waits until the console shows every line of the server's transcript of `id`.
fn wait_console_caught_up(agent: &Browser, server: &Server, id: &str) {
    agent.wait_until("the console to show the whole transcript", || {
        let shown: Vec<i64> = agent.lines("#agent-transcript").iter().map(|l| l.index).collect();
        shown == shown_indexes(&server.all_messages(id))
    });
}

/// Wraps the page's fetch() so that the test can see every request made from now on.
fn record_requests(b: &Browser) {
    b.exec(
        "window.__requests = [];
         const original = window.fetch;
         window.fetch = function (input, init) {
           window.__requests.push(String(input && input.url ? input.url : input));
           return original.apply(this, arguments);
         };",
        json!([]),
    );
}

/// The URLs fetched since `record_requests`, relative to the server.
fn recorded_requests(b: &Browser, server: &Server) -> Vec<String> {
    let origin = url(server, "");
    b.exec("return window.__requests;", json!([]))
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap().trim_start_matches(&origin).to_string())
        .collect()
}

fn unread_badge(b: &Browser, id: &str) -> Option<i64> {
    let css = format!("#chats [data-chat-id=\"{id}\"] .unread");
    b.visible(&css).then(|| b.text(&css).trim().parse().unwrap())
}

#[test]
fn the_console_lives_on_event_streams_without_polling() {
    let server = Server::manual();
    let Some(agent) = Browser::launch() else { return };
    let ada = server.request_chat("Ada");
    let bob = server.request_chat("Bob");
    open_in_console(&agent, &server, &ada);
    // Opening the chat moves the agent's read cursor to its last line: no badge, on the server too.
    server.wait_for("Ada's chat to be read", Duration::from_secs(10), || {
        (admin_summary(&server, &ada, None)["unreadByAgent"] == 0).then_some(())
    });
    assert_eq!(unread_badge(&agent, &ada), None);
    let bob_unread = admin_summary(&server, &bob, None)["unreadByAgent"].as_i64().unwrap();
    assert!(bob_unread > 0);
    assert_eq!(unread_badge(&agent, &bob), Some(bob_unread));

    // From now on the page's requests are recorded: three seconds with nothing happening bring
    // none (the old console polled the list every 1.5 s and the chat every 1 s).
    record_requests(&agent);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(recorded_requests(&agent, &server), Vec::<String>::new(), "no request while idle");

    // A customer message sent through the customer API appears, brought by the chat's stream.
    assert_eq!(server.send_message(&ada, "Hello from the customer API").status, 200);
    agent.wait_until("the customer's message in the console", || {
        has_line(&agent.lines("#agent-transcript"), "Text", "Customer", "customer API")
    });
    let line = agent.lines("#agent-transcript").last().unwrap().index;
    // Messages to the other chat raise its badge, brought by the all-chats stream.
    assert_eq!(server.send_message(&bob, "Anyone there?").status, 200);
    assert_eq!(server.send_message(&bob, "Hello?").status, 200);
    agent.wait_until("Bob's badge to count the new messages", || {
        unread_badge(&agent, &bob) == Some(bob_unread + 2)
    });
    assert_eq!(admin_summary(&server, &bob, None)["unreadByAgent"], bob_unread + 2);
    std::thread::sleep(Duration::from_secs(2));
    assert_no_doubles(&agent.lines("#agent-transcript"));
    wait_console_caught_up(&agent, &server, &ada);

    // What was requested: only the move of the agent's read cursor to the new line (one read of
    // that one line, after it was drawn); no list, no chat detail, no transcript poll, and the
    // streams were not opened again.
    let requests = recorded_requests(&agent, &server);
    let mark = format!("/__admin/chats/{ada}/messages?index={line}");
    assert_eq!(requests, vec![mark], "the requests after load");
    assert_eq!(admin_summary(&server, &ada, None)["unreadByAgent"], 0);
    assert_eq!(unread_badge(&agent, &ada), None);
    agent.screenshot("agent-streams");

    // The counts are the server's: a reload shows the same.
    agent.refresh();
    let item = format!("#chats [data-chat-id=\"{bob}\"]");
    agent.wait_until("the list after the reload", || agent.exists(&item));
    assert_eq!(unread_badge(&agent, &bob), Some(bob_unread + 2));
    assert_eq!(unread_badge(&agent, &ada), None);
}

#[test]
fn the_console_reconnects_its_streams_when_the_server_comes_back() {
    let mut server = Server::manual();
    let Some(agent) = Browser::launch() else { return };
    let id = server.request_chat("Ada");
    server.agent(&id, json!({"action": "join", "nickname": "Ann"}));
    server.agent(&id, json!({"action": "message", "text": "Before the restart"}));
    open_in_console(&agent, &server, &id);
    assert!(!agent.visible("#agent-connection"));

    server.stop();
    agent.wait_until("the reconnecting note", || agent.visible("#agent-connection"));
    agent.wait_until("the list's note", || agent.text("#list-status").contains("Reconnecting"));
    agent.screenshot("agent-reconnecting");

    server.start_again_on_same_port();
    server.agent(&id, json!({"action": "message", "text": "After the restart"}));
    assert_eq!(server.send_message(&id, "Welcome back").status, 200);
    agent.wait_until_for("the lines after the restart", Duration::from_secs(30), || {
        has_line(&agent.lines("#agent-transcript"), "Text", "Customer", "Welcome back")
    });
    agent.wait_until("the notes to go", || {
        !agent.visible("#agent-connection") && !agent.text("#list-status").contains("Reconnecting")
    });
    let lines = agent.lines("#agent-transcript");
    assert_no_doubles(&lines);
    let shown: Vec<i64> = lines.iter().map(|l| l.index).collect();
    assert_eq!(shown, shown_indexes(&server.all_messages(&id)), "nothing lost, nothing doubled");
    // A chat started after the restart reaches the list through the new all-chats stream.
    let later = server.request_chat("Newcomer");
    agent.wait_until("the new chat in the list", || {
        agent.exists(&format!("#chats [data-chat-id=\"{later}\"]"))
    });
}

#[test]
fn the_console_asks_for_the_admin_token() {
    let server = Server::builder()
        .arg("--agent-mode", "manual")
        .arg("--admin-token", "s3cret-token")
        .start();
    let Some(agent) = Browser::launch() else { return };
    let id = server.request_chat("Tess"); // the customer API needs no token
    agent.goto(&url(&server, "/client/agent.html"));
    agent.wait_until("the token form", || agent.visible("#token-form"));
    let asked = agent.text("#token-message");
    assert!(asked.contains("--admin-token"), "{asked}");
    assert!(agent.exists("label[for=admin-token]"), "the token field is labelled");
    assert_eq!(agent.exec("return document.activeElement.id;", json!([])), "admin-token");
    assert!(!agent.exists("#chats [data-chat-id]"), "nothing shown without the token");
    agent.screenshot("agent-token");

    agent.type_into("#admin-token", "wrong-token");
    agent.type_into("#admin-token", ENTER);
    agent.wait_until("the refusal", || {
        agent.visible("#token-form") && agent.text("#token-message").contains("refused")
    });
    assert!(!agent.exists("#chats [data-chat-id]"));
    agent.screenshot("agent-token-refused");

    agent.type_into("#admin-token", "s3cret-token");
    agent.click("#token-submit");
    agent.wait_until("the form to go", || !agent.visible("#token-form"));
    let item = format!("#chats [data-chat-id=\"{id}\"]");
    agent.wait_until("the chat in the list", || agent.exists(&item));
    let kept = agent.exec("return sessionStorage.getItem('gws-emulator.admin-token');", json!([]));
    assert_eq!(kept, "s3cret-token");

    // The streams carry the token: the open chat's lines and the list's new chats arrive.
    agent.click(&item);
    agent.wait_until("the transcript", || !agent.lines("#agent-transcript").is_empty());
    assert_eq!(server.send_message(&id, "Can you read me?").status, 200);
    agent.wait_until("the customer's message", || {
        has_line(&agent.lines("#agent-transcript"), "Text", "Customer", "read me")
    });
    let other = server.request_chat("Uma");
    agent
        .wait_until("the new chat", || agent.exists(&format!("#chats [data-chat-id=\"{other}\"]")));
    agent.clear("#agent-nickname");
    agent.type_into("#agent-nickname", "Ann");
    agent.click("#join");
    wait_state(&agent, "#agent-state", "Chatting");
    assert_eq!(server.state(&id), "Chatting");

    // A reload in the same tab keeps the token: no form.
    agent.refresh();
    agent.wait_until("the list after the reload", || agent.exists(&item));
    assert!(!agent.visible("#token-form"));
}

/// Sets the scenario picker of the console to `name`.
fn pick_scenario(agent: &Browser, name: &str) {
    agent.wait_until("the scenario in the picker", || {
        agent.exists(&format!("#scenario-select option[value=\"{name}\"]"))
    });
    agent.exec(
        "const s = document.querySelector('#scenario-select'); s.value = arguments[0];
         s.dispatchEvent(new Event('change', { bubbles: true }));",
        json!([name]),
    );
}

#[test]
fn the_console_shows_and_switches_a_chats_scenario() {
    let server = Server::builder().arg("--agent-mode", "manual").arg("--clock", "frozen").start();
    let Some(agent) = Browser::launch() else { return };
    let id = server.request_chat("Sam");
    open_in_console(&agent, &server, &id);
    let item_scenario = format!("#chats [data-chat-id=\"{id}\"] .chat-item-scenario");
    assert_eq!(agent.text(&item_scenario), "manual");
    assert_eq!(agent.text("#agent-scenario"), "manual");
    assert!(agent.exists("label[for=scenario-select]"));
    agent.wait_until("the picker to show the chat's scenario", || {
        agent.exec("return document.querySelector('#scenario-select').value;", json!([]))
            == "manual"
    });

    pick_scenario(&agent, "greets-then-bot");
    agent.click("#scenario-switch");
    agent.wait_until("the new scenario shown", || {
        agent.text("#agent-scenario") == "greets-then-bot"
            && agent.text(&item_scenario) == "greets-then-bot"
    });
    assert_eq!(server.admin_chat(&id)["scenario"], "greets-then-bot");
    assert!(!agent.visible("#agent-error"));
    let res = server.post("/__admin/clock", &json!({"advance": "2s"}));
    assert_eq!(res.status, 200, "{}", res.text());
    agent.wait_until("the greeting", || {
        has_line(&agent.lines("#agent-transcript"), "Text", "Agent", "Hello Sam, I'm Kate")
    });
    wait_state(&agent, "#agent-state", "Chatting");
    agent.screenshot("agent-scenario");

    // A refusal shows in the error area: a scenario deleted after the picker listed it.
    let res = server.request(
        "PUT",
        "/__admin/scenarios/vanishing",
        &[("Content-Type", "application/json")],
        br#"{"steps": []}"#,
    );
    assert_eq!(res.status, 200, "{}", res.text());
    agent.exec("document.querySelector('#scenario-select').focus();", json!([])); // reads the list again
    pick_scenario(&agent, "vanishing");
    assert_eq!(server.delete("/__admin/scenarios/vanishing").status, 200);
    agent.click("#scenario-switch");
    agent.wait_until("the error", || agent.visible("#agent-error"));
    assert!(agent.text("#agent-error").contains("vanishing"), "{}", agent.text("#agent-error"));
    assert_eq!(agent.text("#agent-scenario"), "greets-then-bot");
}

#[test]
fn the_console_lists_the_open_chats_requests() {
    let server = Server::manual();
    let Some(customer) = Browser::launch() else { return };
    let Some(agent) = Browser::launch() else { return };
    let id = start_chat(&customer, &server, "Rita", "Requests");
    server.agent(&id, json!({"action": "join", "nickname": "Ann"}));
    wait_state(&customer, "#state", "Chatting");
    open_in_console(&agent, &server, &id);
    agent.click("#tab-requests");
    assert_eq!(agent.attr("#tab-requests", "aria-selected").as_deref(), Some("true"));
    assert!(!agent.visible("#agent-transcript"));
    agent.wait_until("the widget's RequestChat", || {
        agent.exists("#requests li[data-operation=RequestChat][data-status='200']")
    });
    assert!(agent.exists("#requests li[data-operation=GetTranscript][data-status='200']"));

    // What the widget sends next shows up, brought by the chat's stream, with its status.
    send_with_enter(&customer, "#message", "Where is <b>my</b> order?");
    agent.wait_until("the widget's SendMessage", || {
        agent.exists("#requests li[data-operation=SendMessage][data-status='200']")
    });
    let text = agent.exec(
        "return document.querySelector('#requests li[data-operation=SendMessage]').textContent;",
        json!([]),
    );
    assert!(text.as_str().unwrap().contains("Where is <b>my</b> order?"), "{text}");
    assert!(!agent.exists("#requests b"), "bodies are text, never markup");

    // A refused poll, after the refresh button.
    let res = server.post(
        "/__admin/faults",
        &json!({"match": {"operation": "GetTranscript", "chat": id}, "fault": {"status": 503}, "times": 1}),
    );
    assert_eq!(res.status, 200, "{}", res.text());
    server.wait_for("the widget's refused poll", Duration::from_secs(10), || {
        let r = server.get(&format!("/__admin/requests?chat={id}&status=503"));
        (!r.json()["requests"].as_array().unwrap().is_empty()).then_some(())
    });
    agent.click("#requests-refresh");
    agent.wait_until("the 503", || {
        agent.exists("#requests li[data-operation=GetTranscript][data-status='503']")
    });
    // Newest first, every entry once, all of this chat.
    let ids = agent.exec(
        "return [...document.querySelectorAll('#requests li')].map(li => Number(li.dataset.id));",
        json!([]),
    );
    let ids: Vec<i64> = ids.as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first, once each: {ids:?}");
    agent.click("#requests li[data-operation=SendMessage] summary");
    agent.screenshot("agent-requests");

    agent.click("#tab-transcript");
    assert!(agent.visible("#agent-transcript"));
    assert!(has_line(&agent.lines("#agent-transcript"), "Text", "Customer", "<b>my</b>"));
}

#[test]
fn the_console_fits_a_phone() {
    let server = Server::manual();
    let Some(agent) = Browser::launch_sized(390, 844) else { return };
    let id = server.request_chat("Pia");
    server.agent(&id, json!({"action": "join", "nickname": "Ann"}));
    server.agent(&id, json!({"action": "message", "text": "Hello from the console"}));
    open_in_console(&agent, &server, &id);
    let fits = || {
        agent.exec("return document.documentElement.scrollWidth <= window.innerWidth;", json!([]))
    };
    assert_eq!(fits(), true, "no horizontal scrolling at phone width");
    agent.screenshot("agent-phone");
    agent.click("#tab-requests");
    agent.wait_until("the requests", || agent.exists("#requests li"));
    agent.click("#requests li summary");
    assert_eq!(fits(), true, "no horizontal scrolling in the requests view");
    agent.screenshot("agent-phone-requests");
}

/// The widget with `userData` from its configuration (the scenario to run).
fn start_chat_with_user_data(
    b: &Browser,
    server: &Server,
    nickname: &str,
    user_data: Value,
) -> String {
    b.goto(&url(server, "/"));
    b.wait_until("the widget's form", || b.visible("#nickname"));
    b.exec("GWS_CONFIG.userData = arguments[0];", json!([user_data]));
    b.type_into("#nickname", nickname);
    b.click("#start");
    b.wait_until("a chat id in localStorage", || stored_chat_id(b).is_some());
    stored_chat_id(b).unwrap()
}

fn advance(server: &Server, by: &str) {
    let res = server.post("/__admin/clock", &json!({ "advance": by }));
    assert_eq!(res.status, 200, "advance: {}", res.text());
}

#[test]
fn the_widget_follows_the_scenarios_picked_with_user_data() {
    let server = Server::builder().arg("--clock", "frozen").start();
    let Some(b) = Browser::launch() else { return };

    let id = start_chat_with_user_data(&b, &server, "Jo", json!({"scenario": "joins-then-leaves"}));
    assert_eq!(server.admin_chat(&id)["scenario"], "joins-then-leaves");
    assert_eq!(server.admin_chat(&id)["userData"]["scenario"], "joins-then-leaves");
    wait_state(&b, "#state", "WaitingForAgent");
    advance(&server, "3500ms"); // the join, then the greeting
    wait_state(&b, "#state", "Chatting");
    b.wait_until("the greeting", || has_line(&b.lines("#transcript"), "Text", "Agent", "Hi Jo"));
    advance(&server, "3s"); // the agent leaves
    b.wait_until("the agent's leave line", || {
        has_line(&b.lines("#transcript"), "ParticipantLeft", "Agent", "Kate left the chat")
    });
    wait_state(&b, "#state", "WaitingForAgent");
    assert_no_doubles(&b.lines("#transcript"));
    b.screenshot("widget-agent-left");

    b.click("#end");
    wait_state(&b, "#state", "Idle");
    b.click("#new-chat");
    b.wait_until("the form", || b.visible("#nickname"));
    b.exec("GWS_CONFIG.userData = arguments[0];", json!([{"scenario": "pushes-a-link"}]));
    b.click("#start");
    b.wait_until("the second chat", || stored_chat_id(&b).is_some_and(|s| s != id));
    let second = stored_chat_id(&b).unwrap();
    assert_eq!(server.admin_chat(&second)["scenario"], "pushes-a-link");
    advance(&server, "2s");
    let link = "#transcript li[data-type=PushUrl] a[href='https://example.com/help']";
    b.wait_until("the pushed link", || b.exists(link));
    b.wait_until("the notice", || {
        has_line(&b.lines("#transcript"), "Notice", "Agent", "Kate shared a link")
    });
    let a = b.exec(
        "const a = document.querySelector(arguments[0]);
         return [a.protocol, a.target, a.rel, a.textContent, a.getClientRects().length > 0];",
        json!([link]),
    );
    assert_eq!(
        a,
        json!(["https:", "_blank", "noopener noreferrer", "https://example.com/help", true])
    );
    assert_no_doubles(&b.lines("#transcript"));
    b.screenshot("widget-pushed-link");
}

#[test]
fn the_widget_recovers_from_a_dropped_send_and_refused_polls() {
    let server = Server::manual();
    let Some(b) = Browser::launch() else { return };
    let id = start_chat(&b, &server, "Fay", "Faults");
    server.agent(&id, json!({"action": "join", "nickname": "Ann"}));
    wait_state(&b, "#state", "Chatting");
    let add_fault = |rule: Value| {
        let res = server.post("/__admin/faults", &rule);
        assert_eq!(res.status, 200, "fault: {}", res.text());
    };
    // The next SendMessage is stored, but its answer is lost; the next two polls are refused.
    add_fault(
        json!({"match": {"operation": "SendMessage", "chat": id}, "fault": {"drop": "after"}, "times": 1}),
    );
    add_fault(
        json!({"match": {"operation": "GetTranscript", "chat": id}, "fault": {"status": 503}, "times": 2}),
    );

    send_with_enter(&b, "#message", "First message");
    b.wait_until("the reconnecting note", || b.visible("#connection"));
    b.screenshot("widget-faults");
    b.wait_until("the stored message to show", || {
        has_line(&b.lines("#transcript"), "Text", "Customer", "First message")
    });
    b.wait_until("the note to go", || !b.visible("#connection"));
    let faults = server.get("/__admin/faults").json();
    let fired: Vec<i64> =
        faults["faults"].as_array().unwrap().iter().map(|f| f["fired"].as_i64().unwrap()).collect();
    assert_eq!(fired, vec![1, 2], "both rules fired: {faults}");
    // The journal has the SendMessage whose answer was dropped. Chromium may send that POST again
    // by itself (it retries a request whose reused keep-alive connection closed before any byte
    // of an answer came back), so the text can be stored twice: the widget must then show both
    // messages, each once, like any other.
    let sent = server.get(&format!("/__admin/requests?chat={id}&operation=SendMessage")).json();
    let entries = sent["requests"].as_array().unwrap();
    assert!(
        entries.iter().any(|e| e["httpStatus"].is_null() && e["fault"]["drop"] == "after"),
        "the answer was dropped: {sent}"
    );

    // It goes on without a reload: the agent's answer arrives, the customer's next message goes out.
    server.agent(&id, json!({"action": "message", "text": "Got it, thanks"}));
    b.wait_until("the agent's answer", || {
        has_line(&b.lines("#transcript"), "Text", "Agent", "Got it")
    });
    b.clear("#message"); // the widget put the unconfirmed text back
    send_with_enter(&b, "#message", "Second message");
    b.wait_until("the second message", || {
        has_line(&b.lines("#transcript"), "Text", "Customer", "Second message")
    });
    b.wait_until("the error to go", || !b.visible("#error"));
    b.wait_until("every message once", || {
        let shown: Vec<i64> = b.lines("#transcript").iter().map(|l| l.index).collect();
        shown == shown_indexes(&server.all_messages(&id))
    });
    let lines = b.lines("#transcript");
    assert_no_doubles(&lines);
    let stored = texts(&server.all_messages(&id), "Text");
    for text in ["First message", "Second message"] {
        let shown = lines.iter().filter(|l| l.kind == "Text" && l.text.contains(text)).count();
        let kept = stored.iter().filter(|t| *t == text).count();
        assert!(kept >= 1, "{text} stored");
        assert_eq!(shown, kept, "{text}: each stored message shown once");
    }
    let second = stored.iter().filter(|t| *t == "Second message").count();
    assert_eq!(second, 1, "a message without a fault is stored once");
}
