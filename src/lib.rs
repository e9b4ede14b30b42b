//! Mailtrail core.
//!
//! Pure logic shared by the browser engine (WebAssembly) and the native binary:
//! no clock, no storage, no network policy lives here. The edges (service worker,
//! Office add-in, CLI, server, IMAP watcher) pass time and I/O in through small ports.

pub mod extract;

#[cfg(target_arch = "wasm32")]
pub mod wasm;
