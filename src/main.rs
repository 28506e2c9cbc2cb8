//! The `imagewatch` command: a thin layer over the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use imagewatch::coverage::{self, CoverageOptions};
use imagewatch::explain::{self, ExplainOptions};
use imagewatch::replay::{self, AlertFormat, ReplayOptions};
use imagewatch::serve::{self, Flags, ServeConfig};
use imagewatch::{InputFormat, Loaded, RuleSource};

/// mimalloc: frees from a thread other than the allocating one take no lock (see Cargo.toml).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Runs the service: syslog listeners, device engines, alert sinks and the HTTP API.
    Serve {
        #[command(flatten)]
        flags: Flags,
        /// Log format on stderr.
        #[arg(long, value_enum, default_value_t = LogFormat::Text)]
        log_format: LogFormat,
    },
    /// Replays log files (or stdin) through the engine; alerts as NDJSON on stdout.
    Replay {
        /// Change calendar (maintenance windows, change tickets, allowlist, inventory).
        #[arg(long)]
        changes: Option<PathBuf>,
        /// Rules directory (signals/ and sequences/); the built-in rules without it.
        #[arg(long)]
        rules: Option<PathBuf>,
        /// State directory (sled); without it the state lives only for this run.
        #[arg(long)]
        state: Option<PathBuf>,
        /// Input format, detected per line by default.
        #[arg(long, value_enum, default_value_t = InputFormat::Auto)]
        format: InputFormat,
        /// Device machines held in memory; idle ones past it wait in the state store.
        #[arg(long, default_value_t = imagewatch::DEFAULT_MAX_DEVICES)]
        max_devices: usize,
        /// Alert records as imagewatch's own (native) or as ECS documents.
        #[arg(long, value_enum, default_value_t = AlertFormat::Native)]
        alert_format: AlertFormat,
        /// How far (milliseconds) a line may arrive out of order and still be put in order;
        /// a service's `lateness_ms` reproduces its alerts from the lines it was sent.
        #[arg(long, default_value_t = imagewatch::DEFAULT_LATENESS)]
        lateness_ms: i64,
        /// Files to read; `-` is stdin.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Shows how each line is read: host, device, clock, event time, and the signal rule it
    /// matches or why none (one JSON object per line; every rule, every line's header).
    Explain {
        /// Change calendar: its inventory names devices, their vendors and clock zones.
        #[arg(long)]
        changes: Option<PathBuf>,
        /// Rules directory (signals/ and sequences/); the built-in rules without it.
        #[arg(long)]
        rules: Option<PathBuf>,
        /// Input format, detected per line by default.
        #[arg(long, value_enum, default_value_t = InputFormat::Auto)]
        format: InputFormat,
        /// File to read; stdin when absent or `-`.
        file: Option<PathBuf>,
    },
    /// Reports per device what its logs show (lines, signal kinds, commands, boots) and what
    /// to enable on it where something T1601 needs is missing; inventory devices that sent
    /// nothing are listed with 0 lines.
    Coverage {
        /// Change calendar: its inventory names the devices expected and their vendors.
        #[arg(long)]
        changes: Option<PathBuf>,
        /// Rules directory (signals/ and sequences/); the built-in rules without it.
        #[arg(long)]
        rules: Option<PathBuf>,
        /// Input format, detected per line by default.
        #[arg(long, value_enum, default_value_t = InputFormat::Auto)]
        format: InputFormat,
        /// One JSON object per device instead of text.
        #[arg(long)]
        json: bool,
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

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum RulesCommand {
    /// Loads every rule file and checks every example line; exit 2 on any failure.
    Test {
        /// Rules directory (signals/ and sequences/); the built-in rules without it.
        #[arg(long)]
        rules: Option<PathBuf>,
    },
    /// Writes the built-in rules to DIR (signals/, sequences/) to customise, for `--rules DIR`.
    Export {
        /// Directory to write into; created when missing.
        dir: PathBuf,
        /// Overwrite files that already exist.
        #[arg(long)]
        force: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { flags, log_format } => serve(flags, log_format),
        Command::Replay {
            changes,
            rules,
            state,
            format,
            max_devices,
            alert_format,
            lateness_ms,
            files,
        } => {
            let opts = ReplayOptions {
                lateness: lateness_ms.max(0),
                changes,
                rules,
                state,
                format,
                max_devices,
                files,
                alert_format,
            };
            to_stdout(|out| replay::run(&opts, out).map(|_| ()), |e| e.exit_code())
        }
        Command::Explain {
            changes,
            rules,
            format,
            file,
        } => {
            let opts = ExplainOptions {
                changes,
                rules,
                format,
                file,
            };
            to_stdout(
                |out| explain::run(&opts, out).map(|_| ()),
                |e| e.exit_code(),
            )
        }
        Command::Coverage {
            changes,
            rules,
            format,
            json,
            files,
        } => {
            let opts = CoverageOptions {
                changes,
                rules,
                format,
                json,
                files,
            };
            to_stdout(
                |out| coverage::run(&opts, out).map(|_| ()),
                |e| e.exit_code(),
            )
        }
        Command::Rules {
            command: RulesCommand::Test { rules },
        } => rules_test(&RuleSource::new(rules.as_deref())),
        Command::Rules {
            command: RulesCommand::Export { dir, force },
        } => rules_export(&dir, force),
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour only for a person at a terminal, never into a pipe, a file or the journal.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

fn serve(flags: Flags, log_format: LogFormat) -> ExitCode {
    init_logging(log_format);
    let config = match ServeConfig::resolve(&flags, std::env::var("IMAGEWATCH_API_TOKEN").ok()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(async move {
        let running = match serve::start(config).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        };
        wait_for_stop(&running).await;
        running.shutdown().await;
        ExitCode::SUCCESS
    })
}

/// Waits for SIGTERM or SIGINT; SIGHUP reloads rules and the calendar meanwhile.
async fn wait_for_stop(running: &serve::Running) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    ) else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    loop {
        tokio::select! {
            _ = term.recv() => return,
            _ = int.recv() => return,
            _ = hup.recv() => {
                if let Err(reason) = running.shared.reload().await {
                    tracing::error!(%reason, "Reload on SIGHUP failed; the previous rules stay in force.");
                }
            }
        }
    }
}

fn rules_test(rules: &RuleSource) -> ExitCode {
    let Loaded {
        classifier,
        sequences,
        ..
    } = match imagewatch::load_config(rules, None) {
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
    print!("{}", classifier.coverage_matrix());
    println!(
        "{rules}: {} signal rules, {} examples, {} sequence rules: {} failures",
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

fn rules_export(dir: &std::path::Path, force: bool) -> ExitCode {
    match imagewatch::export_builtin_rules(dir, force) {
        Ok(written) => {
            println!(
                "{} rule files written to {}; use them with --rules {}",
                written.len(),
                dir.display(),
                dir.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// Runs a command that writes its results to stdout (buffered); an error goes to stderr and
/// decides the exit status.
fn to_stdout<E: std::fmt::Display>(
    run: impl FnOnce(&mut dyn std::io::Write) -> Result<(), E>,
    code: impl Fn(&E) -> i32,
) -> ExitCode {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    match run(&mut out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(code(&e) as u8)
        }
    }
}
