//! One connection: the peer check, then a read loop that answers requests
//! that finish at once itself and hands the others to tasks, a writer task
//! for what is queued, and (once subscribed) an event forwarder. Responses
//! of tasks and events meet in one bounded queue in front of the writer.
//! An answer the read loop has at once is written by the read loop itself
//! when nothing is queued or being written (the write turn is free), so
//! that it leaves before the loop reads again.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use dspconnect::ErrorCode;
use dspconnect::ipc::protocol::{
    Empty, Event, MAX_LINE_BYTES, Method, RpcError, Subscribe, Subscribed,
};
use futures_util::FutureExt as _;
use interprocess::local_socket::tokio::Stream;
use tokio::io::{AsyncReadExt, AsyncWriteExt, WriteHalf};
use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore, broadcast, mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};
use zeroize::Zeroize;

use super::envelope::{self, Call};
use super::framing::{Frame, LineReader};
use super::handler::{ConnectionContext, Handler, decode_params};
use super::{ServerOptions, platform};

/// How long a refused peer gets to read its error before the socket closes.
const REFUSAL_LINGER: Duration = Duration::from_secs(1);

pub(super) async fn serve<H: Handler>(
    stream: Stream,
    connection_id: u64,
    handler: Arc<H>,
    events: broadcast::Sender<Event>,
    options: ServerOptions,
    mut stop: watch::Receiver<bool>,
) {
    let (peer_uid, peer_pid) = match platform::authorize_peer(&stream) {
        Ok(peer) => peer,
        Err(reason) => return refuse(stream, connection_id, reason).await,
    };
    let ctx = ConnectionContext {
        connection_id,
        peer_uid,
        peer_pid,
    };
    tracing::debug!(connection = connection_id, ?peer_pid, "connection opened");

    // Split by value: reading through the owned stream lets tokio see a
    // short read as the end of what is there (reading through `&Stream`
    // would cost one more `recv` per request, answered EAGAIN).
    let (read_half, write_half) = tokio::io::split(stream);
    // Whoever writes a line holds the write half, so lines never interleave.
    let write_half = Arc::new(Mutex::new(write_half));
    let (out, queue) = mpsc::channel::<Vec<u8>>(options.outgoing_queue.max(1));
    let writer = AbortOnDrop(tokio::spawn(write_lines(Arc::clone(&write_half), queue)));
    let mut reader = LineReader::new(read_half, MAX_LINE_BYTES);
    let permits = Arc::new(Semaphore::new(options.max_in_flight.max(1)));
    let mut requests = JoinSet::new();
    let mut subscription: Option<JoinHandle<()>> = None;
    let mut stopping = *stop.borrow_and_update();

    while !stopping {
        let frame = tokio::select! {
            changed = stop.changed() => {
                stopping = changed.is_err() || *stop.borrow();
                continue;
            }
            Some(_) = requests.join_next(), if !requests.is_empty() => continue,
            frame = reader.next_frame() => frame,
        };
        let mut line = match frame {
            Ok(Some(Frame::Line(line))) => line,
            Ok(Some(Frame::TooLong)) => {
                tracing::info!(
                    connection = connection_id,
                    "discarding a message line over {MAX_LINE_BYTES} bytes"
                );
                let answer = envelope::response_line(None, Err(envelope::line_too_long()));
                if out.send(answer).await.is_err() {
                    break;
                }
                continue;
            }
            Ok(None) => break,
            Err(e) => {
                tracing::debug!(connection = connection_id, "read failed: {e}");
                break;
            }
        };
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let parsed = envelope::parse_call(&line);
        // The line may carry a PIN, a password or a presence code.
        line.zeroize();
        let call = match parsed {
            Ok(call) => call,
            Err(rejection) => {
                tracing::debug!(
                    connection = connection_id,
                    code = rejection.error.code().name(),
                    "rejected a request: {}",
                    rejection.error.message
                );
                let envelope::Rejection { id, error } = *rejection;
                let answer = envelope::response_line(id.as_deref(), Err(error));
                if out.send(answer).await.is_err() {
                    break;
                }
                continue;
            }
        };
        if call.method == Subscribe::NAME {
            let (answer, receiver) = subscribe(call, &events, subscription.is_some());
            if let Some(answer) = answer
                && out.send(answer).await.is_err()
            {
                break;
            }
            if let Some(receiver) = receiver {
                subscription = Some(tokio::spawn(forward_events(receiver, out.clone())));
            }
            continue;
        }
        // At most `max_in_flight` requests run at once; further lines wait
        // here, which stops reading from this (and only this) connection.
        let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
            break;
        };
        // Most requests (status, job.status…) finish without waiting for
        // anything: they are answered right here, with no task of their
        // own and no wakeup of another thread. One that has to wait (the
        // platform, job.wait) continues in a task, from where it stopped.
        let mut answer = Box::pin(answer_call(Arc::clone(&handler), ctx, call));
        match (&mut answer).now_or_never() {
            Some(line) => {
                drop(permit);
                let Some(mut line) = line else { continue };
                // Written here only when nothing waits in the queue, so
                // an answer does not overtake the lines queued before it.
                let direct = match write_half.try_lock() {
                    Ok(socket) if out.capacity() == out.max_capacity() => Some(socket),
                    _ => None,
                };
                let sent = if let Some(mut socket) = direct {
                    let written = tokio::select! {
                        written = socket.write_all(&line) => written.is_ok(),
                        _ = stop.changed() => {
                            stopping = true;
                            false
                        }
                    };
                    // Answers can carry bearer secrets (the one-time DSP URL).
                    line.zeroize();
                    written
                } else {
                    out.send(line).await.is_ok()
                };
                if !sent {
                    break;
                }
            }
            None => {
                let out = out.clone();
                requests.spawn(async move {
                    let _permit: OwnedSemaphorePermit = permit;
                    if let Some(line) = answer.await {
                        let _ = out.send(line).await;
                    }
                });
            }
        }
    }

    // Answer what is in flight, then close. On shutdown, only for a while.
    drop(out);
    if let Some(forwarder) = subscription.take() {
        forwarder.abort();
    }
    let finish = async {
        while requests.join_next().await.is_some() {}
        let _ = writer.join().await;
    };
    if stopping {
        if tokio::time::timeout(options.shutdown_grace, finish)
            .await
            .is_err()
        {
            tracing::warn!(
                connection = connection_id,
                "requests still running at shutdown were abandoned"
            );
        }
    } else {
        finish.await;
    }
    tracing::debug!(connection = connection_id, "connection closed");
}

/// Writes queued lines in order until every sender is gone or the peer
/// stops reading for good.
async fn write_lines(
    write_half: Arc<Mutex<WriteHalf<Stream>>>,
    mut queue: mpsc::Receiver<Vec<u8>>,
) {
    while let Some(mut line) = queue.recv().await {
        let written = write_half.lock().await.write_all(&line).await;
        // Answers can carry bearer secrets (the one-time DSP URL).
        line.zeroize();
        if written.is_err() {
            break;
        }
    }
}

/// Runs one call and gives its response line (`None` for a notification,
/// which runs but is not answered, as JSON-RPC 2.0 says). A panicking
/// handler becomes an Internal error for this one request instead of a
/// silent missing answer.
async fn answer_call<H: Handler>(
    handler: Arc<H>,
    ctx: ConnectionContext,
    call: Call,
) -> Option<Vec<u8>> {
    let Call { id, method, params } = call;
    let outcome = match AssertUnwindSafe(handler.handle(&ctx, &method, params))
        .catch_unwind()
        .await
    {
        Ok(outcome) => outcome,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".to_owned());
            tracing::error!(
                connection = ctx.connection_id,
                method,
                "the handler failed: {what}"
            );
            Err(RpcError::new(
                ErrorCode::Internal,
                format!("the daemon failed while handling {method} (a bug: please report it)"),
            ))
        }
    };
    match &outcome {
        Ok(_) => tracing::debug!(connection = ctx.connection_id, method, "answered"),
        Err(e) => tracing::debug!(
            connection = ctx.connection_id,
            method,
            code = e.code().name(),
            "answered with an error"
        ),
    }
    id.map(|id| envelope::response_line(Some(&id), outcome))
}

/// Aborts the task when its owner is abandoned (shutdown).
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> AbortOnDrop<T> {
    async fn join(mut self) -> Result<T, tokio::task::JoinError> {
        (&mut self.0).await
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Answers `events.subscribe`; a new receiver when this connection was not
/// subscribed yet (taken before the answer is queued, so no event published
/// after the answer can be missed).
fn subscribe(
    call: Call,
    events: &broadcast::Sender<Event>,
    already: bool,
) -> (Option<Vec<u8>>, Option<broadcast::Receiver<Event>>) {
    let outcome = decode_params::<Subscribe>(&call.params).map(|Empty {}| ());
    let receiver = match (&outcome, already) {
        (Ok(()), false) => Some(events.subscribe()),
        _ => None,
    };
    let outcome = outcome.and_then(|()| {
        serde_json::value::to_raw_value(&Subscribed { subscribed: true }).map_err(|e| {
            RpcError::new(
                ErrorCode::Internal,
                format!("cannot encode the answer: {e}"),
            )
        })
    });
    let answer = call
        .id
        .map(|id| envelope::response_line(Some(&id), outcome));
    (answer, receiver)
}

async fn forward_events(mut receiver: broadcast::Receiver<Event>, out: mpsc::Sender<Vec<u8>>) {
    loop {
        let event = match receiver.recv().await {
            Ok(event) => event,
            Err(broadcast::error::RecvError::Lagged(dropped)) => Event::Notice {
                message: format!(
                    "{dropped} events were dropped because this connection did not read them \
                     fast enough; call status for the current state"
                ),
            },
            Err(broadcast::error::RecvError::Closed) => break,
        };
        let Some(line) = envelope::event_line(event) else {
            continue;
        };
        if out.send(line).await.is_err() {
            break;
        }
    }
}

/// Tells a refused peer why, then closes. The peer gets a moment to send
/// its request and read the answer: closing at once could make its write
/// fail before it reads why.
async fn refuse(stream: Stream, connection_id: u64, reason: String) {
    tracing::warn!(connection = connection_id, "refused a connection: {reason}");
    let error = RpcError::new(ErrorCode::PermissionDenied, reason)
        .with_hint("connect as the user who started the daemon, or start a daemon of your own");
    let line = envelope::response_line(None, Err(error));
    if (&stream).write_all(&line).await.is_err() {
        return;
    }
    let mut sink = [0u8; 4096];
    let mut drained = 0usize;
    let _ = tokio::time::timeout(REFUSAL_LINGER, async {
        while drained < 64 * 1024 {
            match (&stream).read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => drained += n,
            }
        }
    })
    .await;
    sink.zeroize();
}
