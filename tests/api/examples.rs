//! The examples in examples/ (bash, Python, Node.js, PHP), each run as a person runs it: a
//! complete chat with the bot against a real emulator, checked through the admin API, and clear
//! failures (nothing listening, a refused apikey, no agent within GWS_TIMEOUT). A missing
//! interpreter is reported loudly and the test passes, unless GWS_REQUIRE_EXAMPLES=1 (set by
//! .ci/run) makes it a failure.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{texts, Server, APIKEY};
use serde_json::json;

struct Example {
    file: &'static str,
    interpreter: &'static str,
    /// Arguments that make the interpreter succeed only if it can run the example.
    probe: &'static [&'static str],
    needs: &'static str,
    install: &'static str,
}

const SHELL: Example = Example {
    file: "examples/chat.sh",
    interpreter: "bash",
    needs: "bash and curl",
    probe: &["-c", "command -v curl"],
    install: "apt-get install curl",
};
const PYTHON: Example = Example {
    file: "examples/chat.py",
    interpreter: "python3",
    needs: "python3",
    probe: &["--version"],
    install: "apt-get install python3",
};
const NODE: Example = Example {
    file: "examples/chat.js",
    interpreter: "node",
    needs: "Node.js 18 or later (for fetch)",
    probe: &["-e", "process.exit(typeof fetch === 'function' ? 0 : 1)"],
    install: "apt-get install nodejs (version 18 or later)",
};
const PHP: Example = Example {
    file: "examples/chat.php",
    interpreter: "php",
    needs: "php with the curl extension",
    probe: &["-r", "exit(function_exists('curl_init') ? 0 : 1);"],
    install: "apt-get install php-cli php-curl",
};

/// The time limit of one run of an example.
const TIME_LIMIT: Duration = Duration::from_secs(60);

struct Run {
    success: bool,
    stdout: String,
    stderr: String,
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "--- stdout:\n{}--- stderr:\n{}---", self.stdout, self.stderr)
    }
}

impl Example {
    /// Whether the interpreter is there; if not, says so loudly (straight to the stderr handle,
    /// as eprintln! is captured for a passing test), or fails with GWS_REQUIRE_EXAMPLES=1.
    fn available(&self) -> bool {
        let ok = Command::new(self.interpreter)
            .args(self.probe)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return true;
        }
        let required = std::env::var("GWS_REQUIRE_EXAMPLES").is_ok_and(|v| v == "1");
        let msg = format!(
            "\n\n!!!!!!!!!! EXAMPLE TEST {}: {} needs {}, which this machine lacks.\n\
             !!!!!!!!!! Install it ({}) to test this example;\n\
             !!!!!!!!!! .ci/run installs every interpreter and sets GWS_REQUIRE_EXAMPLES=1.\n",
            if required { "FAILED (GWS_REQUIRE_EXAMPLES=1)" } else { "SKIPPED" },
            self.file,
            self.needs,
            self.install
        );
        if required {
            panic!("{msg}");
        }
        let _ = writeln!(std::io::stderr(), "{msg}");
        false
    }

    /// Runs the example from the project's folder against `base_url`, within TIME_LIMIT.
    fn run(&self, base_url: &str, envs: &[(&str, &str)]) -> Run {
        let mut child = Command::new(self.interpreter)
            .arg(self.file)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env_remove("GWS_APIKEY")
            .env_remove("GWS_TIMEOUT")
            .env("GWS_BASE_URL", base_url)
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {} {}: {e}", self.interpreter, self.file));
        let read_all = |mut pipe: Box<dyn Read + Send>| {
            std::thread::spawn(move || {
                let mut text = String::new();
                let _ = pipe.read_to_string(&mut text);
                text
            })
        };
        let stdout = read_all(Box::new(child.stdout.take().unwrap()));
        let stderr = read_all(Box::new(child.stderr.take().unwrap()));
        let deadline = Instant::now() + TIME_LIMIT;
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let run = Run {
            success: status.is_some_and(|s| s.success()),
            stdout: stdout.join().unwrap(),
            stderr: stderr.join().unwrap(),
        };
        assert!(status.is_some(), "{} did not finish within {TIME_LIMIT:?}\n{run}", self.file);
        run
    }
}

fn api(server: &Server) -> String {
    format!("http://127.0.0.1:{}/api", server.port)
}

/// The example chats with the bot, shows its reply, and leaves a completed chat behind.
fn chats_with_the_bot(example: &Example) {
    if !example.available() {
        return;
    }
    // Key checking on: the example must send the documented key by default.
    let server = Server::builder().arg("--require-apikey", "true").arg("--apikey", APIKEY).start();
    let run = example.run(&api(&server), &[]);
    assert!(run.success, "{} failed\n{run}", example.file);

    // It printed every request and answer, the reply, and the transcript after Complete.
    for op in [
        "RequestChat",
        "SendStartTypingNotification",
        "SendStopTypingNotification",
        "SendMessage",
        "Complete",
    ] {
        assert!(run.stdout.contains(op), "{op} not printed\n{run}");
    }
    assert!(run.stdout.contains("<- 200 "), "no answer printed\n{run}");
    assert!(run.stdout.contains("Kate answered: Good question..."), "no reply shown\n{run}");
    let line = |who: &str, kind: &str, text: &str| {
        run.stdout.lines().any(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            words.len() >= 3
                && words[0].parse::<u32>().is_ok()
                && words[1] == who
                && words[2] == kind
                && l.trim_end().ends_with(text)
        })
    };
    assert!(line("James", "Text", "Is anyone there?"), "no customer line\n{run}");
    assert!(line("Kate", "Text", "Good question..."), "no reply line\n{run}");
    assert!(line("James", "ParticipantLeft", ""), "transcript not read after Complete\n{run}");

    // The chat it made, as the emulator stored it.
    let chats = server.get("/__admin/chats").json()["chats"].as_array().unwrap().clone();
    assert_eq!(chats.len(), 1, "one chat expected: {chats:?}");
    let chat = server.admin_chat(chats[0]["id"].as_str().unwrap());
    assert_eq!(chat["state"], "Idle", "{chat}");
    assert_eq!(chat["nickname"], "James");
    assert_eq!(chat["userData"], json!({"customerId": "C-1024", "source": example.file}));
    let messages = chat["messages"].as_array().unwrap();
    let customer: Vec<_> = messages.iter().filter(|m| m["from"]["type"] == "Customer").collect();
    let kinds: Vec<_> = customer.iter().map(|m| m["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["ParticipantJoined", "TypingStarted", "TypingStopped", "Text", "ParticipantLeft"],
        "the customer's side of {chat}"
    );
    assert_eq!(texts(messages, "Text"), ["Is anyone there?", "Good question..."]);
    let reply = messages.iter().find(|m| m["text"] == "Good question...").unwrap();
    assert_eq!(reply["from"]["type"], "Agent");
}

/// Every kind of failure ends the example with a non-zero status and a clear message.
fn fails_clearly(example: &Example) {
    if !example.available() {
        return;
    }
    let failed = |run: &Run, what: &str, expect: &[&str]| {
        assert!(!run.success, "{what}: {} exited 0\n{run}", example.file);
        for e in expect {
            assert!(run.stderr.contains(e), "{what}: no {e:?} on stderr\n{run}");
        }
    };

    // Nothing listening.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}/api");
    let run = example.run(&url, &[]);
    failed(&run, "nothing listening", &["error: cannot reach", &url]);

    // A wrong key (HTTP 401, statusCode 3), and no agent within GWS_TIMEOUT.
    let server = Server::builder()
        .arg("--require-apikey", "true")
        .arg("--apikey", APIKEY)
        .arg("--agent-mode", "manual")
        .start();
    let run = example.run(&api(&server), &[("GWS_APIKEY", "wrong")]);
    failed(&run, "wrong apikey", &["error: POST", "HTTP 401, statusCode 3"]);

    let started = Instant::now();
    let run = example.run(&api(&server), &[("GWS_TIMEOUT", "1")]);
    failed(&run, "no agent", &["error: no reply from an agent within 1 s"]);
    assert!(started.elapsed() < Duration::from_secs(20), "the deadline was not kept\n{run}");
    assert!(run.stdout.contains("/messages?index="), "GetTranscript was not polled\n{run}");
}

#[test]
fn shell_example_chats_with_the_bot() {
    chats_with_the_bot(&SHELL);
}

#[test]
fn shell_example_fails_clearly() {
    fails_clearly(&SHELL);
}

#[test]
fn python_example_chats_with_the_bot() {
    chats_with_the_bot(&PYTHON);
}

#[test]
fn python_example_fails_clearly() {
    fails_clearly(&PYTHON);
}

#[test]
fn node_example_chats_with_the_bot() {
    chats_with_the_bot(&NODE);
}

#[test]
fn node_example_fails_clearly() {
    fails_clearly(&NODE);
}

#[test]
fn php_example_chats_with_the_bot() {
    chats_with_the_bot(&PHP);
}

#[test]
fn php_example_fails_clearly() {
    fails_clearly(&PHP);
}

/// examples/fast_test.py, a unittest of a whole chat life on the frozen clock, passes against an
/// emulator on its default timings (half an hour of them) in seconds.
#[test]
fn python_fast_test_moves_the_clock_instead_of_waiting() {
    let fast = Example { file: "examples/fast_test.py", ..PYTHON };
    if !fast.available() {
        return;
    }
    let server = Server::builder()
        .arg("--require-apikey", "true")
        .arg("--apikey", APIKEY)
        .arg("--agent-join-delay", "1s..4s")
        .arg("--reply-delay", "0s..2s")
        .arg("--system-message-interval", "20s")
        .arg("--idle-timeout", "30m")
        .arg("--admin-token", "t0ken")
        .start();
    let started = Instant::now();
    let run = fast.run(&api(&server), &[("GWS_ADMIN_TOKEN", "t0ken")]);
    assert!(run.success, "{} failed\n{run}", fast.file);
    assert!(started.elapsed() < Duration::from_secs(30), "it waited\n{run}");
    assert!(run.stderr.contains("OK"), "unittest's verdict\n{run}");
    assert!(run.stdout.contains("a chat's whole life"), "{run}");
    let chats = server
        .request("GET", "/__admin/chats", &[("Authorization", "Bearer t0ken")], b"")
        .json()["chats"]
        .clone();
    assert_eq!(chats.as_array().unwrap().len(), 1, "{chats}");
    assert_eq!(chats[0]["state"], "Idle");
    // A failing test fails: against an emulator whose bot is off, the agent never joins.
    let manual = Server::builder().arg("--agent-mode", "manual").start();
    let run = fast.run(&api(&manual), &[]);
    assert!(!run.success, "the test should fail without an agent\n{run}");
    assert!(run.stderr.contains("FAILED"), "{run}");
}
