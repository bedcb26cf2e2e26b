//! Configuration as a user meets it: `--help`, flags and environment variables (the flag wins),
//! bad values stopping the start with a message naming the option, and clear start-up errors.

use std::time::Duration;

use crate::helpers::{run_emulator, try_request, Server, TempDir, BIN};

/// The flags and environment variables of the original contract (README "Configuration").
const CONTRACT_OPTIONS: &[(&str, &str)] = &[
    ("--port", "PORT"),
    ("--bind", "GWS_BIND"),
    ("--db", "GWS_DB"),
    ("--client-dir", "GWS_CLIENT_DIR"),
    ("--log-dir", "GWS_LOG_DIR"),
    ("--agent-mode", "GWS_AGENT_MODE"),
    ("--agent-nickname", "GWS_AGENT_NICKNAME"),
    ("--agent-join-delay", "GWS_AGENT_JOIN_DELAY"),
    ("--reply-delay", "GWS_REPLY_DELAY"),
    ("--bot-typing", "GWS_BOT_TYPING"),
    ("--system-message-interval", "GWS_SYSTEM_MESSAGE_INTERVAL"),
    ("--idle-timeout", "GWS_IDLE_TIMEOUT"),
    ("--seed", "GWS_SEED"),
    ("--require-apikey", "GWS_REQUIRE_APIKEY"),
    ("--max-body", "GWS_MAX_BODY"),
];

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn help_lists_every_option_with_its_environment_variable_and_default() {
    let dir = TempDir::new();
    let out = run_emulator(&["--help"], &[], dir.path());
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for (flag, env) in CONTRACT_OPTIONS {
        assert!(help.contains(flag), "--help lacks {flag}");
        assert!(help.contains(env), "--help lacks {env}");
    }
    for default in ["8888", "127.0.0.1", "chat.db", "1s..4s", "0s..2s", "20s", "30m", "64KiB"] {
        assert!(help.contains(default), "--help lacks the default {default}");
    }
    assert!(!dir.path().join("chat.db").exists(), "--help starts nothing");
}

#[test]
fn a_bad_value_stops_the_start_with_a_message_naming_the_option() {
    let dir = TempDir::new();
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: &[Case] = &[
        (&["--port", "eighty"], &[], "--port"),
        (&["--port", "70000"], &[], "--port"),
        (&["--agent-mode", "robot"], &[], "--agent-mode"),
        (&["--agent-join-delay", "4s..1s"], &[], "--agent-join-delay"),
        (&["--reply-delay", "fast"], &[], "--reply-delay"),
        (&["--idle-timeout", "-5m"], &[], "--idle-timeout"),
        (&["--bot-typing", "maybe"], &[], "--bot-typing"),
        (&["--max-body", "lots"], &[], "--max-body"),
        (&["--seed", "x"], &[], "--seed"),
        (&["--bind", "not an address"], &[], "--bind"),
        (&["--no-such-option"], &[], "--no-such-option"),
        (&["--port"], &[], "--port"),
        (&[], &[("GWS_SYSTEM_MESSAGE_INTERVAL", "often")], "GWS_SYSTEM_MESSAGE_INTERVAL"),
        (&[], &[("PORT", "http")], "PORT"),
        (&[], &[("GWS_REQUIRE_APIKEY", "sometimes")], "GWS_REQUIRE_APIKEY"),
    ];
    for (args, envs, named) in cases {
        let out = run_emulator(args, envs, dir.path());
        let err = stderr_of(&out);
        assert!(!out.status.success(), "{args:?} {envs:?} should not start");
        assert!(err.contains(named), "{args:?} {envs:?}: message does not name {named}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    }
    assert!(!dir.path().join("chat.db").exists(), "nothing was created");
}

#[test]
fn the_flag_wins_over_the_environment() {
    // Environment alone: manual mode, so no agent joins.
    let server = Server::builder().env("GWS_AGENT_MODE", "manual").start();
    let id = server.request_chat("Ada");
    let pending = server.admin_chat(&id)["pendingWork"].clone();
    assert!(pending.as_array().unwrap().iter().all(|j| j["kind"] != "agent_join"), "{pending}");
    assert_eq!(server.get("/__admin/health").json()["agentMode"], "manual");

    // The flag wins: bot mode, the agent joins.
    let server =
        Server::builder().env("GWS_AGENT_MODE", "manual").arg("--agent-mode", "bot").start();
    let id = server.request_chat("Ada");
    server.wait_for("the bot agent", Duration::from_secs(10), || {
        (server.state(&id) == "Chatting").then_some(())
    });
}

#[test]
fn the_agent_nickname_is_configurable() {
    let server = Server::builder().env("GWS_AGENT_NICKNAME", "Marvin").start();
    let id = server.request_chat("Ada");
    let chat = server.wait_for("the agent", Duration::from_secs(10), || {
        let chat = server.chat(&id);
        (chat["state"] == "Chatting").then_some(chat)
    });
    assert_eq!(chat["participants"][2]["nickname"], "Marvin");
}

#[test]
fn a_port_in_use_is_reported() {
    let server = Server::start();
    let dir = TempDir::new();
    let port = server.port.to_string();
    let out = run_emulator(&["--port", &port], &[], dir.path());
    let err = stderr_of(&out);
    assert!(!out.status.success());
    assert!(err.contains("in use") && err.contains(&port), "{err}");
}

#[test]
fn an_unusable_database_path_is_reported_naming_the_file() {
    let dir = TempDir::new();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a folder").unwrap();
    let under_file = file.join("chat.db");
    let folder = dir.path().join("a-folder");
    std::fs::create_dir(&folder).unwrap();
    for db in [under_file, folder] {
        let out = run_emulator(&["--port", "0", "--db", db.to_str().unwrap()], &[], dir.path());
        let err = stderr_of(&out);
        assert!(!out.status.success(), "{db:?} should not start");
        assert!(err.contains(db.to_str().unwrap()), "the message names the file: {err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    }
}

#[test]
fn a_database_from_a_newer_emulator_is_refused() {
    let dir = TempDir::new();
    let db = dir.path().join("chat.db");
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch("CREATE TABLE future (x); PRAGMA user_version = 99;").unwrap();
    }
    let out = run_emulator(&["--port", "0", "--db", db.to_str().unwrap()], &[], dir.path());
    let err = stderr_of(&out);
    assert!(!out.status.success());
    assert!(err.contains("newer") && err.contains("99") && err.contains("chat.db"), "{err}");
    // The file is left as it was.
    let conn = rusqlite::Connection::open(&db).unwrap();
    let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(v, 99);
}

#[test]
fn a_file_that_is_not_a_database_is_refused() {
    let dir = TempDir::new();
    let db = dir.path().join("chat.db");
    std::fs::write(&db, vec![b'x'; 8192]).unwrap();
    let out = run_emulator(&["--port", "0", "--db", db.to_str().unwrap()], &[], dir.path());
    let err = stderr_of(&out);
    assert!(!out.status.success());
    assert!(err.contains("not a SQLite database") && err.contains("chat.db"), "{err}");
    assert_eq!(std::fs::read(&db).unwrap(), vec![b'x'; 8192], "the file is untouched");
}

#[test]
fn on_its_defaults_it_creates_chat_db_and_logs_in_the_working_folder() {
    // Only --port 0 (so tests can run side by side); every other setting is the default.
    let dir = TempDir::new();
    let mut child = std::process::Command::new(BIN)
        .args(["--port", "0"])
        .current_dir(dir.path())
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let port: u16 = line.trim().trim_end_matches('/').rsplit(':').next().unwrap().parse().unwrap();
    assert!(line.contains("http://127.0.0.1:"), "binds to loopback by default: {line}");
    let res = try_request(port, "GET", "/__admin/health", &[], b"");
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(res.expect("an answer to GET /__admin/health").status, 200);
    assert!(dir.path().join("chat.db").exists());
    assert!(dir.path().join("logs").join("chat.log").exists());
}
