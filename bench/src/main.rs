//! gws-bench: measures the emulator against its ceilings.
//!
//! ```sh
//! cargo run --release -p gws-bench -- [--quick] [--only CASE,...] [--duration 5s]
//! ```
//!
//! The server under test is the real emulator (`gws_emulator::startup::serve`), started in a
//! child process so its memory can be read from `/proc`: this binary re-executes itself with the
//! hidden first argument `--serve-emulator <emulator options…>` (or `--serve-ceiling`, a trivial
//! actix-web server with one handler: the HTTP ceiling for a poll); see `serve`. The load comes
//! from this process: closed-loop keep-alive HTTP/1.1 connections spread over two threads (like
//! `wrk -c32 -t2`), or an open-loop schedule of widgets for the realistic mix (`load`). Storage
//! and scheduler cases run in this process against SQLite directly. Seeded databases (`seed`)
//! are cached under `target/bench-cache/` and copied before each use, so every case starts from
//! the same state. The cases are in `cases`, one function each.
//!
//! Exit status: 0 when every case ran without errors (and, in a full run, every target passed);
//! 1 when a case had errors or could not run; 2 for a bad command line; 3 when a full run had no
//! errors but missed a target. `--quick` prints the targets without failing on them.

mod cases;
mod cli;
mod client;
mod db;
mod gws;
mod load;
mod procs;
mod report;
mod runner;
mod seed;
mod serve;
mod sizes;
mod stats;

use std::process::ExitCode;

use cli::Invocation;
use runner::Bench;

fn main() -> ExitCode {
    match cli::parse(std::env::args().collect()) {
        Invocation::Serve(server, args) => server.run(&args),
        Invocation::Bench(opts) => match Bench::new(opts) {
            Ok(bench) => bench.run(),
            Err(msg) => {
                eprintln!("gws-bench: {msg}");
                ExitCode::from(1)
            }
        },
    }
}
