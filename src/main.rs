use std::process::ExitCode;

use gws_emulator::config::{help_text, Config, ConfigError};
use gws_emulator::startup::serve;

fn main() -> ExitCode {
    let config = match Config::from_env_and_args() {
        Ok(config) => config,
        Err(ConfigError::Help) => {
            print!("{}", help_text());
            return ExitCode::SUCCESS;
        }
        Err(ConfigError::Version) => {
            println!("gws-emulator {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Err(ConfigError::Invalid(msg)) => {
            eprintln!("gws-emulator: {msg}");
            return ExitCode::from(2);
        }
    };
    match serve(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("gws-emulator: {msg}");
            ExitCode::from(1)
        }
    }
}
