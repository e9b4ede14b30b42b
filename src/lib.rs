//! Mailtrail core.
//!
//! Pure logic shared by the browser engine (WebAssembly) and the native binary:
//! no clock, no storage, no network policy lives here. The edges (service worker,
//! Office add-in, CLI, server, IMAP watcher) pass time and I/O in through small ports.

pub mod address;
pub mod base64;
pub mod charset;
pub mod delivery;
pub mod email;
pub mod engine;
pub mod extract;
pub mod forward;
pub mod http;
pub mod hubspot;
pub mod ids;
mod json_read;
pub mod outbox;
pub mod policy;
pub mod reason;
pub mod record;
pub mod settings;
pub mod subject;
#[cfg(any(target_arch = "wasm32", test))]
mod tape;
pub mod threads;
pub mod time;
pub mod webhook;

pub use address::{normalize_address, Mailbox};
pub use email::{ComposeData, Email, EmailError, ParseOptions, Source};

#[cfg(target_arch = "wasm32")]
pub mod wasm;
pub use reason::{Reason, ReasonCode};
pub use record::{Direction, Record};
pub use settings::{EndpointConfig, LogMode, Settings};
