//! Events by callback: a library-owned thread per client reads the events
//! of a second connection and calls the host's function with each.

use std::ffi::{CString, c_char, c_void};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use super::client::{client_ref, dsp_client};
use super::error::{dsp_error, guard};
use crate::ErrorCode;
use crate::ipc::Client;
use crate::ipc::protocol::{Empty, Event, Subscribe};

/// How often the event thread looks whether it must stop: the longest
/// `dsp_set_event_callback(NULL)` or `dsp_client_free` waits for it.
const STOP_POLL: Duration = Duration::from_millis(20);

/// An event callback: `event_json` is one event as JSON (`{"kind": "job",
/// …}`, docs/ipc.md "Events"), UTF-8 and NUL-terminated, valid only during
/// the call; `user_data` is what was given to `dsp_set_event_callback`.
pub type dsp_event_callback =
    Option<unsafe extern "C" fn(event_json: *const c_char, user_data: *mut c_void)>;

/// The running event thread of a client.
pub(super) struct EventThread {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<()>,
}

/// The host's pointer, handed to its own callback on our thread. The host
/// promised (by registering it) that its callback may use it there.
struct UserData(*mut c_void);

// SAFETY: the library never dereferences it; it only passes it back to the
// host's callback, on the thread the documentation names.
unsafe impl Send for UserData {}

thread_local! {
    /// On an event thread: the address of its stop flag (0 elsewhere). Not
    /// `std::thread::current()`, which allocates a handle on a host thread
    /// that is never freed.
    static EVENT_THREAD_FLAG: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Stops an event thread and waits for it to end, unless this is that
/// thread (a callback unregistering itself or freeing its client): then it
/// ends as soon as the running callback returns.
pub(super) fn stop(thread: Option<EventThread>) {
    let Some(thread) = thread else { return };
    thread.stop.store(true, Ordering::Release);
    let own = Arc::as_ptr(&thread.stop) as usize;
    if EVENT_THREAD_FLAG.with(|f| f.get()) != own {
        // The thread only ends by itself; a panic in it has already been
        // reported by the panic hook and must not cross into the host.
        let _ = thread.handle.join();
    }
}

fn event_json(event: &Event) -> CString {
    let json = serde_json::to_string(event).unwrap_or_else(|e| {
        format!(r#"{{"kind":"notice","message":"an event could not be encoded: {e}"}}"#)
    });
    let bytes: Vec<u8> = json.bytes().take_while(|&b| b != 0).collect();
    CString::new(bytes).unwrap_or_default()
}

fn run(
    mut connection: Client,
    callback: unsafe extern "C" fn(*const c_char, *mut c_void),
    user_data: UserData,
    stop: Arc<AtomicBool>,
) {
    EVENT_THREAD_FLAG.with(|f| f.set(Arc::as_ptr(&stop) as usize));
    while !stop.load(Ordering::Acquire) {
        let (event, last) = match connection.next_event(STOP_POLL) {
            Ok(Some(event)) => (event, false),
            Ok(None) => continue,
            Err(e) => (
                Event::Notice {
                    message: format!(
                        "the event connection to the daemon ended ({}: {}); no more events will \
                     come to this callback: register it again once the daemon runs",
                        e.code.name(),
                        e.message
                    ),
                },
                true,
            ),
        };
        let json = event_json(&event);
        if stop.load(Ordering::Acquire) {
            return;
        }
        // SAFETY: the host registered `callback` for exactly this call; the
        // string lives until it returns.
        unsafe { callback(json.as_ptr(), user_data.0) };
        if last {
            return;
        }
    }
}

/// Registers `callback` to receive this client's events (card, session,
/// job progress and results, notices: docs/ipc.md "Events"); NULL
/// unregisters. Registering replaces the previous callback.
///
/// - **Thread:** the callback runs on a thread the library starts for this
///   client (named `dspconnect-events`), never on the caller's thread;
///   events come one at a time, in the daemon's order. The thread reads a
///   second connection of its own, subscribed before this call returns:
///   every event published after it returns is delivered.
/// - **`event_json`** is valid only during the call: copy it to keep it.
///   `user_data` is passed back unchanged.
/// - **From the callback** any function of this library may be called,
///   on this client too (`dsp_status_get`, `dsp_job_status`, even
///   `dsp_job_wait`: the callback's connection is not the client's, so
///   nothing deadlocks; a blocking call only delays the next events). It may
///   also unregister itself or free its client: its thread then ends when
///   it returns. The callback must return normally (no C++ exception or
///   longjmp across it).
/// - **Unregistering** (NULL, a new callback, or `dsp_client_free`) waits
///   for a running callback to return and ends the thread: no call of the
///   old callback happens after it returns (except, from the callback
///   itself, the one running).
/// - If the daemon goes away the callback receives a last `notice` event
///   saying so, and no more; register again to resume.
/// - `dsp_next_event` polling is independent: it reads the client's own
///   connection after `dsp_subscribe`.
#[unsafe(no_mangle)]
pub extern "C" fn dsp_set_event_callback(
    client: *const dsp_client,
    callback: dsp_event_callback,
    user_data: *mut c_void,
) -> *mut dsp_error {
    guard(|| {
        // SAFETY: handle contract.
        let client = unsafe { client_ref(client) }?;
        let previous = client
            .events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        // Joined outside the lock: the old callback may itself be calling
        // this function.
        stop(previous);
        let Some(callback) = callback else {
            return Ok(());
        };
        let mut connection =
            Client::connect(&client.endpoint, client.timeout).map_err(dsp_error::from_client)?;
        connection
            .call::<Subscribe>(&Empty {})
            .map_err(dsp_error::from_client)?;
        let flag = Arc::new(AtomicBool::new(false));
        let thread_flag = Arc::clone(&flag);
        let user_data = UserData(user_data);
        let handle = std::thread::Builder::new()
            .name("dspconnect-events".into())
            .spawn(move || run(connection, callback, user_data, thread_flag))
            .map_err(|e| {
                dsp_error::new(
                    ErrorCode::Internal,
                    &format!("cannot start the event thread: {e}"),
                )
            })?;
        let replaced = client
            .events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .replace(EventThread { stop: flag, handle });
        // Another thread registered at the same time: the last one wins.
        stop(replaced);
        Ok(())
    })
}
