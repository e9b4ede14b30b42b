//! What `plan` and `push` share: settings, engine state, the input email and the trigger.

use super::{read_input, CliError};
use mailtrail::email::{ComposeData, Email};
use mailtrail::engine::Engine;
use mailtrail::policy::Trigger;
use mailtrail::settings::Settings;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum TriggerArg {
    /// Sent with the Log checkbox checked.
    Send,
    /// Sent with the Log checkbox unchecked.
    Unchecked,
    /// "Log this email" (recognises forwards).
    Manual,
    /// A message that arrived (logged if it is a contact's reply in a logged thread).
    Incoming,
    /// A BCC copy received by the logging mailbox.
    BccCopy,
    /// Forwarded to the CRM's forwarding address.
    Forwarded,
}

#[derive(clap::Args)]
pub struct EngineArgs {
    /// The email: a raw message (.eml), or compose JSON (`{"to": [...], ...}`); `-` for stdin.
    pub file: Option<PathBuf>,
    /// Settings JSON (the document described in docs/settings.md).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// What asks for the decision. Default: `send` for compose JSON, `manual` for a message.
    #[arg(long, value_enum)]
    pub trigger: Option<TriggerArg>,
    /// Addresses known to be contacts (comma-separated), in addition to the engine's own.
    #[arg(long, value_delimiter = ',')]
    pub contacts: Vec<String>,
    /// Engine state file (threads, known contacts, outbox). `plan` only reads it (a snapshot,
    /// without waiting for a `push` that is using it).
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// The time the decision is made at, in ms since the epoch (default: the clock), for
    /// reproducible output. It never delays delivery: `push` sends at once.
    #[arg(long)]
    pub now: Option<i64>,
    #[arg(skip)]
    pub detected_compose: std::cell::Cell<bool>,
}

pub enum Input {
    Raw(Vec<u8>),
    Email(Box<Email>),
}

impl EngineArgs {
    pub fn trigger(&self) -> Trigger {
        match self.trigger {
            Some(TriggerArg::Send) => Trigger::Send { log_checked: true },
            Some(TriggerArg::Unchecked) => Trigger::Send { log_checked: false },
            Some(TriggerArg::Manual) => Trigger::Manual,
            Some(TriggerArg::Incoming) => Trigger::Incoming,
            Some(TriggerArg::BccCopy) => Trigger::BccCopy,
            Some(TriggerArg::Forwarded) => Trigger::Forwarded,
            None if self.detected_compose.get() => Trigger::Send { log_checked: true },
            None => Trigger::Manual,
        }
    }

    pub fn contact_set(&self) -> HashSet<String> {
        self.contacts
            .iter()
            .filter_map(|c| mailtrail::normalize_address(c).ok())
            .collect()
    }
}

impl EngineArgs {
    /// `--now`, or the clock.
    pub fn now(&self) -> i64 {
        self.now.unwrap_or_else(now_ms)
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub fn load_settings(path: Option<&Path>) -> Result<Settings, CliError> {
    let Some(path) = path else {
        return Ok(Settings::default());
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::BadInput(format!("cannot read config {}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| {
        CliError::BadInput(format!(
            "config {} is not valid settings JSON: {e}",
            path.display()
        ))
    })
}

/// What a command does with the state file.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum StateUse {
    /// Reads it only (`plan`): no lock. The state is only ever replaced whole, by a rename
    /// (see [`save_state`]), so one read is a consistent snapshot: the state as the last
    /// finished save left it, whatever a `push` is doing meanwhile.
    Read,
    /// Reads it, changes it and writes it back (`push`): holds its lock until the process ends.
    Update,
}

/// Loads settings, state and the input. The state file may not exist yet.
pub fn load_engine(args: &EngineArgs, state_use: StateUse) -> Result<(Engine, Input), CliError> {
    let settings = load_settings(args.config.as_deref())?;
    let mut engine = Engine::new(&settings).map_err(|e| CliError::BadInput(e.to_string()))?;
    if let Some(state) = &args.state {
        if state_use == StateUse::Update {
            lock_state(state)?;
        }
        match std::fs::read(state) {
            Ok(bytes) => {
                let problems = engine
                    .import_state(&bytes, Vec::new())
                    .map_err(|e| CliError::BadInput(format!("state {}: {e}", state.display())))?;
                for p in problems {
                    eprintln!("mailtrail: warning: state {}: {p}", state.display());
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(CliError::Failed(format!(
                    "cannot read state {}: {e}",
                    state.display()
                )))
            }
        }
    }
    let raw = read_input(args.file.as_deref())?;
    let first = raw.iter().find(|b| !b.is_ascii_whitespace());
    let input = if first == Some(&b'{') {
        let data: ComposeData = serde_json::from_slice(&raw)
            .map_err(|e| CliError::BadInput(format!("compose JSON is invalid: {e}")))?;
        let mut email =
            Email::from_compose(&data).map_err(|e| CliError::BadInput(e.to_string()))?;
        if email.source == mailtrail::Source::Cli && data.source.is_none() {
            email.source = mailtrail::Source::Cli;
        }
        args.detected_compose.set(true);
        Input::Email(Box::new(email))
    } else {
        // Parse once here so bad input fails with exit code 2 before anything else happens.
        engine
            .parse(&raw)
            .map_err(|e| CliError::BadInput(e.to_string()))?;
        Input::Raw(raw)
    };
    Ok((engine, input))
}

/// The lock on the state file in use, held until the process ends.
static STATE_LOCK: std::sync::OnceLock<std::fs::File> = std::sync::OnceLock::new();

/// The lock file beside a state file: `<state>.lock`. (The state file itself is replaced on
/// every save, so it cannot carry the lock.)
pub fn lock_path(state: &Path) -> PathBuf {
    let mut name = state.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Takes the state file's lock for the rest of the process: two `push`es with one state file
/// run one after the other, so neither loses the records the other queued (each reads the
/// state, adds to it and writes it back). A command waiting for it says so on stderr. Readers
/// (`plan`) take no lock: see [`StateUse::Read`].
fn lock_state(state: &Path) -> Result<(), CliError> {
    if STATE_LOCK.get().is_some() {
        return Ok(());
    }
    if let Some(dir) = state.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| CliError::Failed(format!("cannot create {}: {e}", dir.display())))?;
    }
    let path = lock_path(state);
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| CliError::Failed(format!("cannot open {}: {e}", path.display())))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            eprintln!(
                "mailtrail: waiting for another command using {} to finish…",
                state.display()
            );
            file.lock()
                .map_err(|e| CliError::Failed(format!("cannot lock {}: {e}", path.display())))?;
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(CliError::Failed(format!(
                "cannot lock {}: {e}",
                path.display()
            )))
        }
    }
    let _ = STATE_LOCK.set(file);
    Ok(())
}

/// Writes the engine state atomically and durably: a temp file of its own (unique name, so
/// nothing else writes it), fsynced, renamed over the state, and the directory fsynced, so a
/// crash or power cut leaves the old state or the new one, never half a file.
pub fn save_state(engine: &mut Engine, path: &Path) -> Result<(), CliError> {
    use std::io::Write;
    let bytes = engine.export_state(true);
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)
        .map_err(|e| CliError::Failed(format!("cannot create {}: {e}", dir.display())))?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mut tmp_name = path.file_name().unwrap_or_default().to_owned();
    tmp_name.push(format!(".tmp.{}.{nanos}", std::process::id()));
    let tmp = dir.join(tmp_name);
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .and_then(|mut f| {
            f.write_all(&bytes)?;
            f.sync_all()
        });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(CliError::Failed(format!(
            "cannot write {}: {e}",
            tmp.display()
        )));
    }
    if let Err(e) = std::fs::rename(&tmp, path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(CliError::Failed(format!(
            "cannot write {}: {e}",
            path.display()
        )));
    }
    // The rename is durable once the directory is.
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| CliError::Failed(format!("cannot sync {}: {e}", dir.display())))
}
