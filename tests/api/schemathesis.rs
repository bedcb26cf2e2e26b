//! Property-based testing of the HTTP API with schemathesis (<https://schemathesis.io>): it reads
//! the OpenAPI document the emulator serves at `/__admin/openapi.json`, generates requests from it
//! (valid and invalid ones: boundary values, wrong types, missing fields, random strings) and
//! checks every answer: no 5xx, a documented status, a documented Content-Type, a body that
//! matches the documented schema. Its stateful phase follows the document's links from
//! RequestChat, so operations run on real chats (joined, answered by the bot, completed).
//!
//! The schemathesis executable is `$GWS_SCHEMATHESIS` or `schemathesis` on the PATH; without it
//! the test says so loudly and passes, unless `GWS_REQUIRE_SCHEMATHESIS=1` (set by `.ci/run`,
//! which installs it in `target/schemathesis-venv`). `GWS_SCHEMATHESIS_EXAMPLES` changes the
//! number of examples per operation (default 100), `GWS_SCHEMATHESIS_SEED` fixes the seed (the
//! output shows the seed of every run, to reproduce a failure).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{exclusive, Server};

/// Examples per operation and phase: four to five minutes in a debug build on two cores (most of
/// it the stateful phase, whose event streams are read for up to 2 s each).
const EXAMPLES: &str = "100";
/// A run that takes longer than this is stopped and fails.
const TIME_LIMIT: Duration = Duration::from_secs(600);

const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
                      response_schema_conformance";

/// The stateful phase follows only the document's own links. Schemathesis's name-based inference
/// takes the `ContactCenterId` header for a reference to a "ContactCenter" resource that nothing
/// creates, and then never starts a scenario from RequestChat.
///
/// Per operation:
/// - The event streams (`chatEvents`, `allEvents`) never end by themselves. Schemathesis reads a
///   `text/event-stream` answer until 20 events came or the request timeout passed, then checks
///   what it read (status, Content-Type, each event against the document): a 2 s timeout keeps
///   each example short instead of 30 s, and nothing is left out.
/// - A long poll (`agentTranscript` with `wait`) may be held up to 60 s, as documented: its
///   timeout is above that, so a wait that runs its course is not taken for a hang.
/// - `addFault` is not run. A rule it adds changes what the customer operations answer, on
///   purpose and for the rest of the run: any status and statusCode the rule names (outside the
///   document by design), connections closed without an answer, delays up to 5 minutes. The
///   fuzzer would report those against the customer operations. The rest of the fault routes
///   (list, delete) run; tests/api/openapi.rs drives `addFault` and its refusals.
const CONFIG: &str = "\
[phases.stateful]
max-steps = 10

[phases.stateful.inference]
algorithms = []

[[operations]]
include-operation-id = [\"chatEvents\", \"allEvents\"]
request-timeout = 2

[[operations]]
include-operation-id = \"agentTranscript\"
request-timeout = 65

[[operations]]
include-operation-id = \"addFault\"
enabled = false
";

fn schemathesis() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("GWS_SCHEMATHESIS") {
        return Some(PathBuf::from(path)).filter(|p| p.is_file());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join("schemathesis")).find(|p| p.is_file())
}

#[test]
fn schemathesis_finds_no_answer_that_breaks_the_openapi_document() {
    let Some(exe) = schemathesis() else {
        let msg = "\n\n!!!!!!!!!! SCHEMATHESIS TEST SKIPPED: no schemathesis executable.\n\
                   !!!!!!!!!! Install it (python3 -m venv target/schemathesis-venv &&\n\
                   !!!!!!!!!! target/schemathesis-venv/bin/pip install schemathesis) and set\n\
                   !!!!!!!!!! GWS_SCHEMATHESIS=target/schemathesis-venv/bin/schemathesis, or put it on the PATH;\n\
                   !!!!!!!!!! .ci/run does that and sets GWS_REQUIRE_SCHEMATHESIS=1.\n";
        if std::env::var("GWS_REQUIRE_SCHEMATHESIS").is_ok_and(|v| v == "1") {
            panic!("{msg}");
        }
        // Straight to the stderr handle: eprintln! would be captured for a passing test.
        let _ = writeln!(std::io::stderr(), "{msg}");
        return;
    };

    // A minute or more of generated requests: alone (see `exclusive`).
    let _heavy = exclusive();
    // Bot mode with fast timings: agents join and answer while schemathesis works.
    let mut server = Server::start();
    let dir = server.dir.path().to_path_buf();
    let config = dir.join("schemathesis.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let (out, err) = (dir.join("schemathesis.out"), dir.join("schemathesis.err"));
    let examples = std::env::var("GWS_SCHEMATHESIS_EXAMPLES").unwrap_or_else(|_| EXAMPLES.into());
    let url = format!("http://127.0.0.1:{}/__admin/openapi.json", server.port);
    let mut cmd = Command::new(&exe);
    cmd.arg("--config-file")
        .arg(&config)
        .args(["run", &url, "--checks", CHECKS, "--max-examples", &examples])
        // One worker: with several, hypothesis trips over its own threads ("AST constructor
        // recursion depth mismatch") and reports errors that are not the emulator's.
        .args(["--workers", "1", "--suppress-health-check", "all", "--request-timeout", "30"])
        .args(["--generation-database", "none", "--no-color"])
        .current_dir(&dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap());
    if let Ok(seed) = std::env::var("GWS_SCHEMATHESIS_SEED") {
        cmd.args(["--seed", &seed]);
    }
    let started = Instant::now();
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot run {}: {e}", exe.display()));
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > TIME_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let elapsed = started.elapsed();
    let output = format!(
        "{} {} ({} examples per operation), {:.0?}:\n{}\n{}",
        exe.display(),
        url,
        examples,
        elapsed,
        std::fs::read_to_string(&out).unwrap_or_default(),
        std::fs::read_to_string(&err).unwrap_or_default()
    );

    // No crash: the emulator still runs, answers, and no handler panicked.
    let alive = server.is_running();
    let health = if alive { Some(server.get("/__admin/health").status) } else { None };
    let stderr = server.stderr_text();
    let panicked: Vec<&str> = stderr.lines().filter(|l| l.contains("panicked")).collect();
    server.stop();

    let Some(status) = status else {
        panic!("schemathesis did not finish within {TIME_LIMIT:?}; its output so far:\n{output}");
    };
    assert!(status.success(), "schemathesis reports failures ({status}):\n{output}");
    assert!(
        alive && health == Some(200),
        "the emulator died or stopped answering (health {health:?})\n{output}"
    );
    assert!(panicked.is_empty(), "the emulator panicked:\n{}\n{output}", panicked.join("\n"));
    eprintln!("{output}");
}
