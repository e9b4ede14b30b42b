//! What the watcher keeps on disk, per account, in `STATE_DIR/<account>/`:
//!
//! - `engine.json`: the engine's threads, known contacts and recent activity (one snapshot,
//!   rewritten atomically when it changed);
//! - `outbox.jsonl`: the outbox as an append-only journal of changes (`{"put": entry}` /
//!   `{"remove": key}`), synced to disk before the watcher moves past the messages that produced
//!   them, and rewritten compactly when it has grown well beyond the live entries. A journal
//!   keeps the cost of a batch proportional to the batch, not to the 100 000 entries a large
//!   backfill leaves behind;
//! - `checkpoints.json`: per folder, UIDVALIDITY and the last UID handled (see [`Checkpoints`]).
//!
//! Order of writes, which is what makes "nothing missed, nothing twice" hold across crashes:
//! records are queued and the journal synced *before* the checkpoint moves past their messages;
//! a crash in between makes the next run see those messages again, and the outbox (same
//! idempotency keys) and the endpoint's deduplication make that harmless.

use mailtrail::engine::Engine;
use mailtrail::outbox::{Change, Entry};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

/// Creates a directory (and its missing parents) that only its owner can enter: the state
/// holds whole emails (the outbox) and who writes to whom. An existing directory that others
/// can enter is narrowed to the owner when `narrow` (the watcher's own per-account directories,
/// made open by older versions), else left as it is (the state directory may be one the
/// administrator made and shares). Returns true when others can still enter it.
pub fn create_private_dir(dir: &Path, narrow: bool) -> std::io::Result<bool> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        builder.mode(0o700);
        builder.create(dir)?;
        let mode = std::fs::metadata(dir)?.permissions().mode();
        if mode & 0o077 == 0 {
            return Ok(false);
        }
        if narrow {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode & 0o700))?;
            return Ok(false);
        }
        Ok(true)
    }
    #[cfg(not(unix))]
    {
        let _ = narrow;
        builder.create(dir)?;
        Ok(false)
    }
}

/// Opens a state file for writing, readable by its owner only (when it is created).
pub fn private_file(options: &mut OpenOptions) -> &mut OpenOptions {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

/// Writes a file atomically: a temporary file in the same directory, synced, then renamed over
/// the old one (and the directory synced, so the rename itself survives a power cut). The file
/// is readable by its owner only.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.is_dir() {
        create_private_dir(dir, false)?;
    }
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("state");
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    // A leftover of a crashed run would keep its old permissions.
    let _ = std::fs::remove_file(&tmp);
    {
        let mut f =
            private_file(OpenOptions::new().write(true).create(true).truncate(true)).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// The per-account state directory.
pub struct AccountStore {
    dir: PathBuf,
    journal: Option<File>,
    journal_lines: usize,
    last_snapshot: Option<std::time::Instant>,
}

/// During a long scan the engine snapshot (threads can be megabytes) is rewritten at most this
/// often; it is always written at the end of a sync. The outbox journal is never deferred.
const SNAPSHOT_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

impl AccountStore {
    pub fn open(dir: PathBuf) -> std::io::Result<Self> {
        create_private_dir(&dir, true)?;
        Ok(AccountStore {
            dir,
            journal: None,
            journal_lines: 0,
            last_snapshot: None,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn engine_path(&self) -> PathBuf {
        self.dir.join("engine.json")
    }

    fn journal_path(&self) -> PathBuf {
        self.dir.join("outbox.jsonl")
    }

    fn checkpoints_path(&self) -> PathBuf {
        self.dir.join("checkpoints.json")
    }

    /// Restores the engine's state (snapshot + journal). A torn last journal line (a crash in
    /// the middle of an append) is ignored: its batch was not acknowledged, so its messages
    /// are seen again.
    pub fn load_engine(&mut self, engine: &mut Engine) -> Result<(), String> {
        let snapshot = match std::fs::read(self.engine_path()) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(format!("cannot read {}: {e}", self.engine_path().display())),
        };
        let mut entries: BTreeMap<String, Entry> = BTreeMap::new();
        let mut lines = 0;
        match File::open(self.journal_path()) {
            Ok(f) => {
                let reader = BufReader::new(f);
                let all: Vec<std::io::Result<String>> = reader.lines().collect();
                let total = all.len();
                for (i, line) in all.into_iter().enumerate() {
                    let line = line.map_err(|e| {
                        format!("cannot read {}: {e}", self.journal_path().display())
                    })?;
                    if line.trim().is_empty() {
                        continue;
                    }
                    match serde_json::from_str::<Change>(&line) {
                        Ok(Change::Put(e)) => {
                            entries.insert(e.key.clone(), e);
                        }
                        Ok(Change::Remove(k)) => {
                            entries.remove(&k);
                        }
                        Err(_) if i + 1 == total => {
                            tracing::warn!(
                                "ignoring an incomplete last line in {} (interrupted write)",
                                self.journal_path().display()
                            );
                        }
                        Err(e) => {
                            return Err(format!(
                                "{} line {} is damaged: {e}",
                                self.journal_path().display(),
                                i + 1
                            ))
                        }
                    }
                    lines += 1;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(format!(
                    "cannot read {}: {e}",
                    self.journal_path().display()
                ))
            }
        }
        engine
            .import_state(&snapshot, entries.into_values().collect())
            .map_err(|e| format!("{}: {e}", self.engine_path().display()))?;
        self.journal_lines = lines;
        // Start from a compact journal: it also drops a torn last line.
        self.rewrite_journal(engine)
            .map_err(|e| format!("cannot write {}: {e}", self.journal_path().display()))?;
        Ok(())
    }

    /// Persists what changed in the engine: outbox changes appended to the journal and synced,
    /// the snapshot rewritten when threads, contacts or activity changed (during a scan, at most
    /// every few seconds unless `final_write`).
    pub fn save(&mut self, engine: &mut Engine, final_write: bool) -> std::io::Result<()> {
        let changes = engine.take_changes();
        if !changes.is_empty() {
            if self.journal.is_none() {
                self.journal = Some(
                    private_file(OpenOptions::new().create(true).append(true))
                        .open(self.journal_path())?,
                );
            }
            let mut buf = Vec::with_capacity(changes.len() * 512);
            for c in &changes {
                serde_json::to_writer(&mut buf, c).map_err(std::io::Error::other)?;
                buf.push(b'\n');
            }
            if let Some(f) = self.journal.as_mut() {
                f.write_all(&buf)?;
                f.sync_data()?;
            }
            self.journal_lines += changes.len();
        }
        let due = final_write
            || self
                .last_snapshot
                .is_none_or(|t| t.elapsed() >= SNAPSHOT_EVERY);
        if engine.state_dirty() && due {
            let bytes = engine.export_state(false);
            write_atomic(&self.engine_path(), &bytes)?;
            self.last_snapshot = Some(std::time::Instant::now());
        }
        let live = engine.outbox().len();
        if self.journal_lines > 2 * live + 1000 {
            self.rewrite_journal(engine)?;
        }
        Ok(())
    }

    fn rewrite_journal(&mut self, engine: &Engine) -> std::io::Result<()> {
        let mut buf = Vec::new();
        for e in engine.outbox().entries() {
            serde_json::to_writer(&mut buf, &Change::Put(e.clone()))
                .map_err(std::io::Error::other)?;
            buf.push(b'\n');
        }
        self.journal = None;
        write_atomic(&self.journal_path(), &buf)?;
        self.journal_lines = engine.outbox().len();
        Ok(())
    }

    pub fn load_checkpoints(&self) -> Result<Checkpoints, String> {
        match std::fs::read(self.checkpoints_path()) {
            Ok(b) => serde_json::from_slice(&b)
                .map_err(|e| format!("{} is damaged: {e}", self.checkpoints_path().display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Checkpoints::default()),
            Err(e) => Err(format!(
                "cannot read {}: {e}",
                self.checkpoints_path().display()
            )),
        }
    }

    pub fn save_checkpoints(&self, cp: &Checkpoints) -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(cp).map_err(std::io::Error::other)?;
        write_atomic(&self.checkpoints_path(), &bytes)
    }
}

/// Where the watcher is in each folder.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Checkpoints {
    #[serde(default)]
    pub folders: BTreeMap<String, FolderCheckpoint>,
}

/// One folder: everything up to `last_uid` under `uid_validity` has been handled.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct FolderCheckpoint {
    /// The UIDVALIDITY the UIDs belong to. When the server reports another one, every UID is
    /// meaningless and the folder is scanned again.
    pub uid_validity: u32,
    pub last_uid: u32,
    /// Messages before this day (ms) are not considered, also after a UIDVALIDITY change: the
    /// first scan's window, so a rescan does not log mail from before the account was watched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since_ms: Option<i64>,
    /// The last UID of that first scan (or rescan): only UIDs up to here are limited by
    /// `since_ms`; later ones are new mail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_end_uid: Option<u32>,
    /// Sent messages not (yet) found at the endpoint: the browser may still be sending their
    /// record (Undo Send delays it), so they are looked up again for a while.
    #[serde(default, skip_serializing_if = "VecDeque::is_empty")]
    pub recheck: VecDeque<Recheck>,
    /// How many times the folder was rescanned because its UIDVALIDITY changed.
    #[serde(default)]
    pub rescans: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Recheck {
    pub uid: u32,
    pub first_seen_ms: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp_file() {
        let dir = std::env::temp_dir().join(format!("mt-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let p = dir.join("a.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[cfg(unix)]
    #[test]
    fn state_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let dir = std::env::temp_dir().join(format!("mt-private-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        // New: created private, parents included.
        let account = dir.join("state").join("alice");
        assert!(!create_private_dir(&dir.join("state"), false).unwrap());
        // An existing state directory open to others is reported, not changed.
        std::fs::set_permissions(dir.join("state"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        assert!(create_private_dir(&dir.join("state"), false).unwrap());
        assert_eq!(mode(&dir.join("state")), 0o755);
        std::fs::set_permissions(dir.join("state"), std::fs::Permissions::from_mode(0o700))
            .unwrap();
        let mut store = AccountStore::open(account.clone()).unwrap();
        assert_eq!(mode(&account), 0o700);
        assert_eq!(mode(&dir.join("state")), 0o700);
        write_atomic(&account.join("checkpoints.json"), b"{}").unwrap();
        assert_eq!(mode(&account.join("checkpoints.json")), 0o600);
        // The outbox journal (whole emails) too.
        let settings = mailtrail::Settings {
            user_addresses: vec!["me@ours.example".into()],
            ..Default::default()
        };
        let mut engine = Engine::new(&settings).unwrap();
        store.load_engine(&mut engine).unwrap();
        let raw = b"From: me@ours.example\r\nTo: client@theirs.example\r\nSubject: Hi\r\nMessage-ID: <p1@ours.example>\r\n\r\nHello\r\n";
        let contacts: std::collections::HashSet<String> = Default::default();
        engine
            .process_raw(
                raw,
                mailtrail::policy::Trigger::BccCopy,
                &contacts,
                1_000,
                &Default::default(),
            )
            .unwrap();
        store.save(&mut engine, true).unwrap();
        assert_eq!(mode(&account.join("outbox.jsonl")), 0o600);
        assert_eq!(mode(&account.join("engine.json")), 0o600);
        // Made by an older version, open to all: narrowed.
        std::fs::set_permissions(&account, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(
            account.join("outbox.jsonl"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        let mut again = AccountStore::open(account.clone()).unwrap();
        assert_eq!(mode(&account), 0o700);
        let mut engine2 = Engine::new(&settings).unwrap();
        again.load_engine(&mut engine2).unwrap();
        assert_eq!(mode(&account.join("outbox.jsonl")), 0o600);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn journal_round_trip_and_torn_line() {
        let dir = std::env::temp_dir().join(format!("mt-journal-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let settings = mailtrail::Settings {
            user_addresses: vec!["me@ours.example".into()],
            ..Default::default()
        };
        let mut engine = Engine::new(&settings).unwrap();
        let mut store = AccountStore::open(dir.clone()).unwrap();
        store.load_engine(&mut engine).unwrap();
        let raw = b"From: me@ours.example\r\nTo: client@theirs.example\r\nSubject: Hi\r\nMessage-ID: <a1@ours.example>\r\nDate: Mon, 2 Mar 2026 10:00:00 +0000\r\n\r\nHello\r\n";
        let contacts: std::collections::HashSet<String> = Default::default();
        let out = engine
            .process_raw(
                raw,
                mailtrail::policy::Trigger::BccCopy,
                &contacts,
                1_000,
                &Default::default(),
            )
            .unwrap();
        assert!(out.queued);
        store.save(&mut engine, true).unwrap();
        // A crash mid-append leaves half a line behind.
        let mut f = OpenOptions::new()
            .append(true)
            .open(dir.join("outbox.jsonl"))
            .unwrap();
        f.write_all(b"{\"put\":{\"key\":\"m1-").unwrap();
        drop(f);
        let mut again = Engine::new(&settings).unwrap();
        let mut store2 = AccountStore::open(dir.clone()).unwrap();
        store2.load_engine(&mut again).unwrap();
        assert_eq!(again.outbox().len(), 1);
        let key = out.record.unwrap().idempotency_key;
        assert!(again.outbox().get(&key).is_some());
        // The thread was saved with the snapshot.
        assert_eq!(again.threads().len(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
