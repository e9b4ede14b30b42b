//! The API token: created once per data directory, kept in `<data-dir>/token` (mode 0600).
//!
//! One token has two uses (docs/server.md): it is the HMAC secret that signs `POST /v1/records`
//! (so the token itself never travels with a record) and the bearer token of every other `/v1`
//! route. The web UI's session cookie is derived from it, so changing the token signs everyone out.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Where the token came from, for the start-up banner.
pub enum TokenSource {
    Created(PathBuf),
    File(PathBuf),
    Environment,
}

/// Loads the token (`MAILTRAIL_TOKEN`, else the token file), creating the file on first start.
pub fn load_or_create(data_dir: &Path) -> anyhow::Result<(String, TokenSource)> {
    if let Ok(t) = std::env::var("MAILTRAIL_TOKEN") {
        let t = t.trim().to_string();
        if t.len() < 16 {
            return Err(super::bad_input!(
                "MAILTRAIL_TOKEN is set but shorter than 16 characters: use a long random value"
            ));
        }
        return Ok((t, TokenSource::Environment));
    }
    let path = data_dir.join("token");
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let t = text.trim().to_string();
            if t.len() < 16 {
                return Err(super::bad_input!(
                    "{} does not hold a usable token (shorter than 16 characters): delete it and start again to create a new one",
                    path.display()
                ));
            }
            warn_if_readable_by_others(&path);
            Ok((t, TokenSource::File(path)))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let token = new_token()?;
            write_private(&path, &token)?;
            Ok((token, TokenSource::Created(path)))
        }
        Err(e) => anyhow::bail!("cannot read the token file {}: {e}", path.display()),
    }
}

/// `mt_` and 64 hex digits (256 random bits).
pub fn new_token() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes)
        .map_err(|e| anyhow::anyhow!("no randomness available for the token: {e}"))?;
    Ok(format!("mt_{}", super::ingest::hex(&bytes)))
}

fn write_private(path: &Path, token: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| anyhow::anyhow!("cannot create the token file {}: {e}", path.display()))?;
    f.write_all(format!("{token}\n").as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| anyhow::anyhow!("cannot write the token file {}: {e}", path.display()))?;
    Ok(())
}

fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path) {
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            tracing::warn!(path = %path.display(), mode = format!("{:o}", mode & 0o777),
                "the token file is readable by other users; run chmod 600 on it");
        }
    }
}

/// The web UI's session cookie value: HMAC(token, label), so no session table is needed.
pub fn ui_session(token: &str) -> String {
    let mut m = match <Hmac<Sha256> as Mac>::new_from_slice(token.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    m.update(b"mailtrail web ui session v1");
    super::ingest::hex(&m.finalize().into_bytes())
}

/// Compares secrets without leaking where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_once_with_private_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("mt-token-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let _ = std::fs::remove_file(dir.join("token"));
        let (a, src) = load_or_create(&dir).unwrap();
        assert!(matches!(src, TokenSource::Created(_)));
        assert!(a.starts_with("mt_") && a.len() == 67);
        let mode = std::fs::metadata(dir.join("token"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        let (b, src) = load_or_create(&dir).unwrap();
        assert!(matches!(src, TokenSource::File(_)));
        assert_eq!(a, b);
        assert_ne!(ui_session(&a), ui_session("mt_other_token_value"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
