//! The `imagewatch` command: a thin layer over the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use imagewatch::replay::{self, ReplayOptions};
use imagewatch::source::InputFormat;

#[derive(Parser)]
#[command(
    name = "imagewatch",
    version,
    about = "Detects network-device OS image tampering (MITRE ATT&CK T1601) from syslog sequences."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Replays log files (or stdin) through the engine; alerts as NDJSON on stdout.
    Replay {
        /// Change calendar (maintenance windows, change tickets, allowlist, inventory).
        #[arg(long)]
        changes: Option<PathBuf>,
        /// Rules directory (signals/ and sequences/).
        #[arg(long, default_value = "rules")]
        rules: PathBuf,
        /// State directory (sled); without it the state lives only for this run.
        #[arg(long)]
        state: Option<PathBuf>,
        /// Input format, detected per line by default.
        #[arg(long, value_enum, default_value_t = InputFormat::Auto)]
        format: InputFormat,
        /// Files to read; `-` is stdin.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Rule maintenance.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
}

#[derive(Subcommand)]
enum RulesCommand {
    /// Loads every rule file and checks every example line; exit 2 on any failure.
    Test {
        #[arg(long, default_value = "rules")]
        rules: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Replay {
            changes,
            rules,
            state,
            format,
            files,
        } => {
            let opts = ReplayOptions {
                changes,
                rules,
                state,
                format,
                files,
            };
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
            match replay::run(&opts, &mut out) {
                Ok(_) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(e.exit_code() as u8)
                }
            }
        }
        Command::Rules {
            command: RulesCommand::Test { rules },
        } => rules_test(&rules),
    }
}

fn rules_test(rules: &std::path::Path) -> ExitCode {
    let (classifier, sequences, _) = match replay::load_config(rules, None) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let failures = classifier.check_examples();
    for f in &failures {
        eprintln!("FAIL {f}");
    }
    println!(
        "{} signal rules, {} examples, {} sequence rules: {} failures",
        classifier.rule_count(),
        classifier.example_count(),
        sequences.sequences.len(),
        failures.len()
    );
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    }
}
