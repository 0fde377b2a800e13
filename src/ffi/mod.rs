//! libdspconnect's C ABI over the blocking IPC client (no async runtime in
//! the library). Conventions (DESIGN.md, after rustls-ffi):
//!
//! - every function is `dsp_…`; handles are opaque (`dsp_client`,
//!   `dsp_error`, `dsp_document_list`) and every `_free` accepts NULL;
//! - a fallible call returns `dsp_error*`: NULL is success; otherwise read
//!   `dsp_error_code()` (a fixed code of `dsp_code`, never reused),
//!   `dsp_error_message()` and `dsp_error_hint()`, then `dsp_error_free()`;
//!   there is no thread-local "last error";
//! - outputs go to out-parameters; strings the library returns are UTF-8,
//!   NUL-terminated, and freed with `dsp_string_free()`;
//! - a panic never crosses the boundary: it becomes `DSP_E_PANIC`;
//! - one `dsp_client` is one connection: use it from one thread at a time
//!   (calls on it are serialized by the library anyway);
//! - events come by callback (`dsp_set_event_callback`: a library thread
//!   reading a second connection of its own) or by polling
//!   (`dsp_subscribe` + `dsp_next_event`, on the client's connection);
//! - a struct the caller fills for the library starts with a `size` field
//!   (`sizeof` the struct), checked: `DSP_E_STRUCT_VERSION` otherwise.

// The exports take raw pointers from C by design; each documents what it
// requires of them, and checks NULL itself. Marking them `unsafe fn` would
// change nothing for C callers.
#![allow(clippy::not_unsafe_ptr_arg_deref)]

mod account;
mod client;
mod documents;
mod error;
mod events;
mod strings;

pub use account::*;
pub use client::*;
pub use documents::*;
pub use error::*;
pub use events::*;
pub use strings::*;

/// Test support, not part of the C ABI.
#[doc(hidden)]
pub mod testing {
    /// Makes the next exported call on this thread panic inside its panic
    /// boundary (which must turn it into `DSP_E_PANIC`).
    pub fn panic_in_next_call() {
        super::error::PANIC_NEXT_CALL.with(|p| p.set(true));
    }
}
