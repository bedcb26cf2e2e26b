//! The servers under test, in child processes: the benchmark re-executes itself with a hidden
//! first argument (`--serve-emulator <emulator options…>` or `--serve-ceiling`), so that a
//! server's memory can be read from `/proc` and the load comes from another process.

use std::io::{self, Read};
use std::net::TcpListener;
use std::process::ExitCode;
use std::thread;

use actix_web::{web, App, HttpResponse, HttpServer};

use gws_emulator::config::Config;
use gws_emulator::startup::serve;

/// The body of every answer of the HTTP ceiling.
const CEILING_BODY: &str = r#"{"messages":[],"statusCode":0}"#;

/// Which server a child process runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Server {
    /// The real emulator, as `main.rs` runs it.
    Emulator,
    /// The HTTP ceiling.
    Ceiling,
}

impl Server {
    /// The hidden first argument that makes this program that server.
    pub fn flag(self) -> &'static str {
        match self {
            Server::Emulator => "--serve-emulator",
            Server::Ceiling => "--serve-ceiling",
        }
    }

    pub fn from_flag(arg: &str) -> Option<Server> {
        [Server::Emulator, Server::Ceiling].into_iter().find(|s| s.flag() == arg)
    }

    /// Runs the server until the benchmark closes this process's stdin. `args` are the
    /// emulator's options.
    pub fn run(self, args: &[String]) -> ExitCode {
        exit_when_stdin_closes();
        match self {
            Server::Emulator => emulator(args),
            Server::Ceiling => ceiling(),
        }
    }
}

/// The child ends when the benchmark closes its stdin (or dies): no server outlives a run.
fn exit_when_stdin_closes() {
    thread::spawn(|| {
        let mut sink = [0u8; 256];
        let mut stdin = io::stdin();
        loop {
            match stdin.read(&mut sink) {
                Ok(0) | Err(_) => std::process::exit(0),
                Ok(_) => {}
            }
        }
    });
}

/// `--serve-emulator <options>`: the real emulator, as `main.rs` runs it. The benchmark passes a
/// temporary `--log-dir` and `RUST_LOG=warn`, so the per-request info lines are off.
fn emulator(args: &[String]) -> ExitCode {
    let config = match Config::from_args(
        std::iter::once("gws-emulator".to_string()).chain(args.iter().cloned()),
    ) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("gws-bench --serve-emulator: {e}");
            return ExitCode::from(2);
        }
    };
    match serve(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("gws-bench --serve-emulator: {msg}");
            ExitCode::from(1)
        }
    }
}

/// `--serve-ceiling`: actix-web with one handler and a fixed body, with the emulator's number of
/// workers. Nothing an emulator could do per request is cheaper: the HTTP ceiling.
fn ceiling() -> ExitCode {
    let workers = thread::available_parallelism().map_or(2, |n| n.get());
    let result: io::Result<()> = actix_web::rt::System::new().block_on(async move {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let addr = listener.local_addr()?;
        let server = HttpServer::new(|| {
            App::new().default_service(web::to(|| async {
                HttpResponse::Ok().content_type("application/json").body(CEILING_BODY)
            }))
        })
        .workers(workers)
        .listen(listener)?
        .disable_signals()
        .run();
        println!("ceiling listening on http://{addr}/");
        server.await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gws-bench --serve-ceiling: {e}");
            ExitCode::from(1)
        }
    }
}
