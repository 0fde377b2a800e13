//! The professional's session: card present → PIN → platform assertion,
//! renewed without the PIN while the card stays in, locked on removal,
//! explicit lock, idle timeout and the desktop's screen lock.
//!
//! - [`machine`]: the pure state machine (states exactly
//!   [`dspconnect::ipc::protocol::SessionState`]) and its transition table.
//! - [`spawn_session`] / [`SessionHandle`]: the task that runs it over a
//!   card thread and an [`Authenticator`], and the handle the IPC layer,
//!   the tray and the outbox use.
//! - [`screen_lock`]: following the desktop's screen lock on D-Bus.

mod assertion;
mod authenticator;
mod driver;
mod error;
pub mod machine;
pub mod screen_lock;

pub use assertion::{ActiveSession, Assertion, SessionKind, XSPA_SUBJECT_ID};
pub use authenticator::{AuthError, Authenticator};
pub use driver::{SessionConfig, SessionHandle, spawn_session};
pub use dspconnect::model::{Matricule, Password};
pub use error::SessionError;
pub use screen_lock::{ScreenLockWatcher, SessionBus, WatcherState, spawn_screen_lock_watcher};
