use std::process::ExitCode;

use gws_emulator::config::{Config, ConfigError};
use gws_emulator::startup::serve;

fn main() -> ExitCode {
    let config = match Config::from_env_and_args() {
        Ok(config) => config,
        Err(ConfigError::Info(text)) => {
            println!("{}", text.trim_end());
            return ExitCode::SUCCESS;
        }
        Err(ConfigError::Invalid(msg)) => {
            eprintln!("gws-emulator: {msg}");
            return ExitCode::from(2);
        }
    };
    match serve(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gws-emulator: {e}");
            ExitCode::from(1)
        }
    }
}
