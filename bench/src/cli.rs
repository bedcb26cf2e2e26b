//! The command line: the benchmark's options, or one of the hidden server modes this program
//! re-executes itself with.

use std::time::Duration;

use clap::{CommandFactory, FromArgMatches, Parser};

use gws_emulator::config::parse_duration;

use crate::cases::{self, CASES};
use crate::serve::Server;

/// What this process is to do.
pub enum Invocation {
    /// Run the benchmark.
    Bench(Opts),
    /// Be a server under test (a child of the benchmark), with the emulator's options.
    Serve(Server, Vec<String>),
}

/// The benchmark's options, defaults applied.
pub struct Opts {
    pub quick: bool,
    /// Only these cases (names from `CASES`); all when `None`.
    pub only: Option<Vec<&'static str>>,
    pub duration: Duration,
    pub warmup: Duration,
    pub connections: usize,
}

/// gws-bench: measures gws-emulator against its ceilings (HTTP, storage) and its targets
#[derive(Parser, Debug)]
#[command(
    name = "gws-bench",
    override_usage = "cargo run --release -p gws-bench -- [OPTIONS]",
    args_override_self = true
)]
struct Args {
    /// Every case with tiny sizes and short runs: a smoke test (missed targets do not fail it)
    #[arg(long)]
    quick: bool,
    /// Run only these cases (see the list below)
    #[arg(long, value_name = "CASE,...", value_parser = parse_cases)]
    only: Option<CaseList>,
    /// Measured time of each load case [default: 5s; --quick 500ms]
    #[arg(long, value_name = "D", value_parser = parse_measured)]
    duration: Option<Duration>,
    /// Unmeasured time before it [default: 1s; --quick 200ms]
    #[arg(long, value_name = "D", value_parser = parse_warmup)]
    warmup: Option<Duration>,
    /// Closed-loop keep-alive connections (like wrk -c32)
    #[arg(long, value_name = "N", default_value_t = 32, value_parser = parse_connections)]
    connections: usize,
}

/// The cases of `--only`.
#[derive(Clone, Debug)]
struct CaseList(Vec<&'static str>);

fn parse_cases(list: &str) -> Result<CaseList, String> {
    let mut names = Vec::new();
    for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let case = cases::find(name).ok_or_else(|| {
            let all: Vec<&str> = CASES.iter().map(|c| c.name).collect();
            format!("unknown case '{name}'; the cases are {}", all.join(", "))
        })?;
        names.push(case.name);
    }
    Ok(CaseList(names))
}

fn parse_warmup(raw: &str) -> Result<Duration, String> {
    parse_duration(raw).ok_or_else(|| "expected a duration such as 5s or 500ms".to_string())
}

fn parse_measured(raw: &str) -> Result<Duration, String> {
    match parse_warmup(raw)? {
        d if d.is_zero() => Err("must be more than 0".into()),
        d => Ok(d),
    }
}

fn parse_connections(raw: &str) -> Result<usize, String> {
    raw.parse::<usize>()
        .ok()
        .filter(|n| (1..=4096).contains(n))
        .ok_or_else(|| "expected 1 to 4096".to_string())
}

/// The help's end: exit status, cache, and the cases.
fn after_help() -> String {
    let mut text = String::from(
        "Exit status: 0 all good; 1 a case had errors (or could not run); 2 bad usage;\n\
         3 (full runs only) no errors but a target was missed.\n\
         Seeded databases are cached in target/bench-cache/ (GWS_BENCH_CACHE overrides); delete it to reseed.\n\
         \n\
         Cases:\n",
    );
    for case in CASES {
        text.push_str(&format!("  {:<20} {}\n", case.name, case.what));
    }
    text
}

impl Args {
    fn command_with_help() -> clap::Command {
        Args::command().after_help(after_help())
    }

    fn into_opts(self) -> Opts {
        let quick = self.quick;
        let (duration, warmup) = if quick {
            (Duration::from_millis(500), Duration::from_millis(200))
        } else {
            (Duration::from_secs(5), Duration::from_secs(1))
        };
        Opts {
            quick,
            only: self.only.map(|l| l.0),
            duration: self.duration.unwrap_or(duration),
            warmup: self.warmup.unwrap_or(warmup),
            connections: self.connections,
        }
    }
}

/// Reads the command line; on a usage error or `--help`, prints and exits (status 2 or 0).
pub fn parse(args: Vec<String>) -> Invocation {
    if let Some(server) = args.get(1).and_then(|a| Server::from_flag(a)) {
        return Invocation::Serve(server, args[2..].to_vec());
    }
    let matches = Args::command_with_help().get_matches_from(args);
    match Args::from_arg_matches(&matches) {
        Ok(args) => Invocation::Bench(args.into_opts()),
        Err(e) => e.exit(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn try_parse(v: &[&str]) -> Result<Opts, clap::Error> {
        let args = std::iter::once("gws-bench").chain(v.iter().copied());
        let matches = Args::command_with_help().try_get_matches_from(args)?;
        Ok(Args::from_arg_matches(&matches)?.into_opts())
    }

    #[test]
    fn the_command_is_well_formed() {
        Args::command_with_help().debug_assert();
    }

    #[test]
    fn options_parse() {
        let o = try_parse(&["--quick", "--only", "mix, rss,", "--duration=2s"]).unwrap();
        assert!(o.quick);
        assert_eq!(o.only, Some(vec!["mix", "rss"]));
        assert_eq!(o.duration, Duration::from_secs(2));
        assert_eq!(o.warmup, Duration::from_millis(200));
        assert_eq!(o.connections, 32);
        let o = try_parse(&["--warmup", "0", "--connections", "8", "--duration", "1m"]).unwrap();
        assert!(!o.quick && o.only.is_none());
        assert_eq!(
            (o.warmup, o.duration, o.connections),
            (Duration::ZERO, Duration::from_secs(60), 8)
        );
        // The last of a repeated option counts, as before.
        assert_eq!(
            try_parse(&["--duration", "1s", "--duration", "3s"]).unwrap().duration.as_secs(),
            3
        );
    }

    #[test]
    fn bad_options_are_usage_errors() {
        for bad in [
            &["--only", "nope"][..],
            &["--duration", "0"],
            &["--duration", "soon"],
            &["--connections", "0"],
            &["--connections", "4097"],
            &["--only"],
            &["--fast"],
            // A server mode is only ever the first argument.
            &["--quick", "--serve-ceiling"],
        ] {
            let e = try_parse(bad).err().unwrap_or_else(|| panic!("{bad:?} was accepted"));
            assert_eq!(e.exit_code(), 2, "{bad:?}: {e}");
        }
        let e = try_parse(&["--only", "mix,nope"]).err().unwrap().to_string();
        assert!(e.contains("unknown case 'nope'; the cases are ceiling-http, "), "{e}");
    }

    #[test]
    fn help_lists_the_cases() {
        let e = try_parse(&["--help"]).err().unwrap();
        assert_eq!(e.kind(), clap::error::ErrorKind::DisplayHelp);
        let help = e.to_string();
        for case in CASES {
            assert!(help.contains(case.name), "{help}");
        }
        assert!(help.contains("--duration <D>"), "{help}");
    }

    #[test]
    fn the_server_modes_take_the_rest_of_the_line() {
        let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        match parse(args(&["gws-bench", "--serve-emulator", "--db", "x.db", "--quick"])) {
            Invocation::Serve(Server::Emulator, rest) => {
                assert_eq!(rest, args(&["--db", "x.db", "--quick"]))
            }
            _ => panic!("not the emulator"),
        }
        assert!(matches!(
            parse(args(&["gws-bench", "--serve-ceiling"])),
            Invocation::Serve(Server::Ceiling, _)
        ));
    }
}
