/*
 * dspconnect.hpp — a header-only C++17 wrapper over libdspconnect's C ABI
 * (include/dspconnect.h), for practice software written in C++.
 *
 *   #include "dspconnect.hpp"
 *
 *   auto dsp = dspconnect::Client::connect();          // the default socket
 *   dsp.unlock("1234");
 *   dspconnect::PushMetadata m;
 *   m.patient = "1945093006704";
 *   m.title = "Lettre de sortie";
 *   m.mode = dspconnect::Mode::Restreint;
 *   m.patient_informed = true;
 *   auto pushed = dsp.push_file("/abs/path/report.pdf", m);
 *   if (dsp.job_wait(pushed.job_id, 60000) == dspconnect::JobState::Done) ...
 *   for (const dspconnect::Document& d : dsp.list(m.patient)) ...
 *
 * Build: g++ -std=c++17 -Ibindings/cpp -Iinclude app.cpp -ldspconnect
 *
 * Conventions:
 * - every failed call throws dspconnect::Error (a std::runtime_error) with
 *   the library's fixed code (code(), docs/ipc.md "Errors"), message
 *   (what()), hint(), field() and pin_tries_left(); the dsp_error is
 *   always freed, also when building the exception throws;
 * - every string the library returns is copied into a std::string and
 *   freed with dsp_string_free() (which wipes it);
 * - handles (Client, DocumentList) are move-only and free themselves; a
 *   moved-from Client holds no connection, and calls on it throw
 *   ErrorCode::NullArgument;
 * - strings go in and come out as UTF-8.
 */

#ifndef DSPCONNECT_HPP
#define DSPCONNECT_HPP

#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dspconnect.h"

namespace dspconnect {

/// The library's fixed error codes (numbers never change; docs/ipc.md).
enum class ErrorCode : std::uint32_t {
  InvalidArgument = 100,
  NullArgument = 101,
  InvalidUtf8 = 102,
  StructVersion = 103,
  Panic = 104,
  DaemonNotRunning = 200,
  ConnectionLost = 201,
  Timeout = 202,
  Protocol = 203,
  LineTooLong = 204,
  ParseError = 205,
  MethodNotFound = 206,
  InvalidParams = 207,
  PermissionDenied = 208,
  BadMatricule = 300,
  FileNotFound = 301,
  NotAFile = 302,
  UnsupportedMimeType = 303,
  FileTooLarge = 304,
  EmptyFile = 305,
  BadMetadata = 306,
  BadMode = 307,
  MissingPatientStatement = 308,
  BadPresenceCode = 309,
  BadPin = 310,
  WeakPassword = 311,
  BadOutputPath = 312,
  UnknownJob = 313,
  UnknownDocument = 314,
  NoReader = 400,
  NoCard = 401,
  WrongPin = 402,
  CardBlocked = 403,
  SessionLocked = 404,
  NotAuthenticated = 405,
  SessionExpired = 406,
  PinpadPending = 407,
  CardSwapped = 408,
  CertificateNotValid = 409,
  CardError = 410,
  TestCardRefused = 411,
  PasswordSessionLimited = 412,
  PlatformUnreachable = 500,
  Tls = 501,
  AuthenticationRefused = 502,
  AccessDenied = 503,
  ModeChangeRefused = 504,
  Conflict = 505,
  Registry = 506,
  PresenceCodeRefused = 507,
  GrantExpired = 508,
  ActivationRefused = 509,
  Platform = 510,
  Internal = 900,
  Io = 901,
  Config = 902,
};

/// The charter's confidentiality modes (`dsp_mode`).
enum class Mode : std::uint32_t {
  Normal = DSP_MODE_NORMAL,
  Restreint = DSP_MODE_RESTREINT,
  Prive = DSP_MODE_PRIVE,
  VisiteAnnonce = DSP_MODE_VISITE_ANNONCE,
};

/// Where the session is (`dsp_session_state`).
enum class SessionState : std::uint32_t {
  NoCard = DSP_SESSION_NO_CARD,
  CardPresent = DSP_SESSION_CARD_PRESENT,
  PinpadPending = DSP_SESSION_PINPAD_PENDING,
  Unlocked = DSP_SESSION_UNLOCKED,
  Authenticated = DSP_SESSION_AUTHENTICATED,
  Expiring = DSP_SESSION_EXPIRING,
  Locked = DSP_SESSION_LOCKED,
  Expired = DSP_SESSION_EXPIRED,
  Blocked = DSP_SESSION_BLOCKED,
  Password = DSP_SESSION_PASSWORD,
};

/// Where an outbox job is (`dsp_job_state`).
enum class JobState : std::uint32_t {
  Queued = DSP_JOB_QUEUED,
  Uploading = DSP_JOB_UPLOADING,
  WaitingForSession = DSP_JOB_WAITING_FOR_SESSION,
  RetryWaiting = DSP_JOB_RETRY_WAITING,
  Done = DSP_JOB_DONE,
  Failed = DSP_JOB_FAILED,
  Conflict = DSP_JOB_CONFLICT,
};

inline const char *to_string(Mode mode) noexcept {
  switch (mode) {
    case Mode::Normal: return "Normal";
    case Mode::Restreint: return "Restreint";
    case Mode::Prive: return "Prive";
    case Mode::VisiteAnnonce: return "VisiteAnnonce";
  }
  return "unknown mode";
}

inline const char *to_string(SessionState state) noexcept {
  switch (state) {
    case SessionState::NoCard: return "NoCard";
    case SessionState::CardPresent: return "CardPresent";
    case SessionState::PinpadPending: return "PinpadPending";
    case SessionState::Unlocked: return "Unlocked";
    case SessionState::Authenticated: return "Authenticated";
    case SessionState::Expiring: return "Expiring";
    case SessionState::Locked: return "Locked";
    case SessionState::Expired: return "Expired";
    case SessionState::Blocked: return "Blocked";
    case SessionState::Password: return "Password";
  }
  return "unknown session state";
}

inline const char *to_string(JobState state) noexcept {
  switch (state) {
    case JobState::Queued: return "Queued";
    case JobState::Uploading: return "Uploading";
    case JobState::WaitingForSession: return "WaitingForSession";
    case JobState::RetryWaiting: return "RetryWaiting";
    case JobState::Done: return "Done";
    case JobState::Failed: return "Failed";
    case JobState::Conflict: return "Conflict";
  }
  return "unknown job state";
}

/// A failed call: the library's error, copied out of its dsp_error.
class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string &message, std::optional<std::string> hint = std::nullopt,
        std::optional<std::string> field = std::nullopt,
        std::optional<std::int32_t> pin_tries_left = std::nullopt)
      : std::runtime_error(message),
        code_(code),
        hint_(std::move(hint)),
        field_(std::move(field)),
        pin_tries_left_(pin_tries_left) {}

  /// The fixed code (DSP_E_… in docs/ipc.md).
  ErrorCode code() const noexcept { return code_; }
  /// The code as the number the C ABI gives.
  std::uint32_t code_number() const noexcept { return static_cast<std::uint32_t>(code_); }
  /// What the user can do about it, when the library says.
  const std::optional<std::string> &hint() const noexcept { return hint_; }
  /// The request field at fault (`metadata.patient`), when known.
  const std::optional<std::string> &field() const noexcept { return field_; }
  /// PIN tries left after a wrong PIN, when known.
  std::optional<std::int32_t> pin_tries_left() const noexcept { return pin_tries_left_; }

 private:
  ErrorCode code_;
  std::optional<std::string> hint_;
  std::optional<std::string> field_;
  std::optional<std::int32_t> pin_tries_left_;
};

namespace detail {

struct ErrorDeleter {
  void operator()(dsp_error *e) const noexcept { dsp_error_free(e); }
};
struct StringDeleter {
  void operator()(char *s) const noexcept { dsp_string_free(s); }
};
struct ClientDeleter {
  void operator()(dsp_client *c) const noexcept { dsp_client_free(c); }
};
struct DocumentListDeleter {
  void operator()(dsp_document_list *l) const noexcept { dsp_document_list_free(l); }
};
struct ProfessionalListDeleter {
  void operator()(dsp_professional_list *l) const noexcept { dsp_professional_list_free(l); }
};
struct BufferDeleter {
  void operator()(std::uint8_t *b) const noexcept { dsp_buffer_free(b); }
};

using OwnedError = std::unique_ptr<dsp_error, ErrorDeleter>;
using OwnedString = std::unique_ptr<char, StringDeleter>;

inline std::optional<std::string> optional_text(const char *s) {
  if (s == nullptr) return std::nullopt;
  return std::string(s);
}

inline std::string text(const char *s) { return s == nullptr ? std::string() : std::string(s); }

/// Throws the error (freeing it) when the call failed; returns on success.
inline void check(dsp_error *raw) {
  if (raw == nullptr) return;
  OwnedError error(raw);  // freed however this ends
  const std::int32_t tries = dsp_error_pin_tries_left(error.get());
  throw Error(static_cast<ErrorCode>(dsp_error_code(error.get())),
              text(dsp_error_message(error.get())), optional_text(dsp_error_hint(error.get())),
              optional_text(dsp_error_field(error.get())),
              tries < 0 ? std::nullopt : std::optional<std::int32_t>(tries));
}

inline const char *c_str_or_null(const std::optional<std::string> &s) noexcept {
  return s ? s->c_str() : nullptr;
}

}  // namespace detail

/// The library's version (the crate version).
inline std::string version() { return detail::text(dsp_version()); }

/// The daemon, card and session at a glance.
struct Status {
  bool sandbox = false;
  bool reader_present = false;
  bool card_present = false;
  bool pinpad = false;
  bool blocked = false;
  bool card_swapped = false;
  std::optional<std::int32_t> pin_tries_left;
  SessionState session = SessionState::NoCard;
  std::uint32_t outbox_queued = 0;
  std::uint32_t outbox_waiting = 0;
  std::uint32_t outbox_failed = 0;
  std::uint32_t outbox_done = 0;
};

/// A document's metadata for a push.
struct PushMetadata {
  /// The patient's matricule (13 digits).
  std::string patient;
  std::string title;
  Mode mode = Mode::Normal;
  /// The patient was informed and agrees (charter); a push without it is refused.
  bool patient_informed = false;
  /// MIME type, or none to recognise it from the content.
  std::optional<std::string> mime_type;
};

/// What a push answers once the document is safely spooled.
struct Pushed {
  std::string job_id;
  std::string unique_id;
};

/// One document as listed (copied out of the list).
struct Document {
  std::string unique_id;
  std::string title;
  Mode mode = Mode::Normal;
  std::string mime_type;
  std::uint64_t size = 0;
  /// The author's eHealth id.
  std::string author;
  /// RFC 3339.
  std::string creation_time;
  /// Replaced by a newer document.
  bool deprecated = false;
};

/// A job's state now (Client::job_status()).
struct JobInfo {
  JobState state = JobState::Queued;
  std::uint32_t attempts = 0;
  /// A failed job's error code, when it has one.
  std::optional<ErrorCode> error;
  std::uint64_t document_size = 0;
  /// Bytes sent in the current attempt.
  std::uint64_t sent = 0;
};

/// One professional of the HPD directory.
struct Professional {
  std::string ehealth_id;
  std::string name;
  std::optional<std::string> profession;
  std::optional<std::string> specialty;
};

/// What the first step of the account activation answers.
struct ActivationPending {
  /// The address the confirmation code was sent to, partly masked.
  std::string email_sent_to;
  /// RFC 3339.
  std::string code_expires_at;
};

/// A retrieved document's bytes and type (Client::get_to_buffer()).
struct Retrieved {
  std::vector<std::uint8_t> data;
  std::string mime_type;
};

/// An event handler: one event as JSON (docs/ipc.md "Events"). It runs on
/// the library's event thread; an exception it throws is swallowed.
using EventHandler = std::function<void(std::string_view event_json)>;

/// The documents of Client::list(): owns the library's dsp_document_list.
class DocumentList {
 public:
  class const_iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = Document;
    using difference_type = std::ptrdiff_t;
    using pointer = const Document *;
    using reference = Document;

    const_iterator(const DocumentList *list, std::size_t index) noexcept
        : list_(list), index_(index) {}
    Document operator*() const { return (*list_)[index_]; }
    const_iterator &operator++() noexcept {
      ++index_;
      return *this;
    }
    const_iterator operator++(int) noexcept {
      const_iterator before = *this;
      ++index_;
      return before;
    }
    bool operator==(const const_iterator &other) const noexcept {
      return list_ == other.list_ && index_ == other.index_;
    }
    bool operator!=(const const_iterator &other) const noexcept { return !(*this == other); }

   private:
    const DocumentList *list_;
    std::size_t index_;
  };

  /// Takes ownership of `raw` (from dsp_list; may be NULL: empty).
  explicit DocumentList(dsp_document_list *raw) noexcept : list_(raw) {}
  DocumentList(DocumentList &&) noexcept = default;
  DocumentList &operator=(DocumentList &&) noexcept = default;
  DocumentList(const DocumentList &) = delete;
  DocumentList &operator=(const DocumentList &) = delete;

  std::size_t size() const noexcept { return list_ ? static_cast<std::size_t>(list_->count) : 0; }
  bool empty() const noexcept { return size() == 0; }

  /// The document at `index` (copied); throws std::out_of_range past the end.
  Document operator[](std::size_t index) const {
    if (index >= size()) throw std::out_of_range("dspconnect::DocumentList index out of range");
    const dsp_document &d = list_->documents[index];
    Document out;
    out.unique_id = detail::text(d.unique_id);
    out.title = detail::text(d.title);
    out.mode = static_cast<Mode>(d.mode);
    out.mime_type = detail::text(d.mime_type);
    out.size = d.size;
    out.author = detail::text(d.author);
    out.creation_time = detail::text(d.creation_time);
    out.deprecated = d.deprecated;
    return out;
  }
  Document at(std::size_t index) const { return (*this)[index]; }

  const_iterator begin() const noexcept { return const_iterator(this, 0); }
  const_iterator end() const noexcept { return const_iterator(this, size()); }

  /// Every document, copied.
  std::vector<Document> to_vector() const {
    std::vector<Document> out;
    out.reserve(size());
    for (std::size_t i = 0; i < size(); ++i) out.push_back((*this)[i]);
    return out;
  }

  const dsp_document_list *raw() const noexcept { return list_.get(); }

 private:
  std::unique_ptr<dsp_document_list, detail::DocumentListDeleter> list_;
};

/// One connection to dspconnectd. Move-only; closes itself. Use it from
/// one thread at a time.
class Client {
 public:
  /// Connects at `socket` (a path), or at the default endpoint when none
  /// ($DSPCONNECT_SOCKET, else $XDG_RUNTIME_DIR/dspconnect/dspconnectd.sock).
  /// Each call then waits at most `timeout_ms` for its answer.
  static Client connect(const std::optional<std::string> &socket = std::nullopt,
                        std::uint32_t timeout_ms = 30000) {
    dsp_client *raw = nullptr;
    detail::check(dsp_connect(detail::c_str_or_null(socket), timeout_ms, &raw));
    return Client(raw);
  }

  /// Takes ownership of a handle from dsp_connect (NULL: no connection).
  explicit Client(dsp_client *raw) noexcept : client_(raw) {}
  ~Client() = default;  // client_ (declared last) is freed first: joins the event thread
  Client(Client &&) noexcept = default;
  Client &operator=(Client &&other) noexcept {
    if (this != &other) {
      client_.reset();  // joins the event thread before its handler goes
      handler_ = std::move(other.handler_);
      client_ = std::move(other.client_);
    }
    return *this;
  }
  Client(const Client &) = delete;
  Client &operator=(const Client &) = delete;

  /// Whether this holds a connection (false once moved from).
  explicit operator bool() const noexcept { return client_ != nullptr; }
  dsp_client *raw() const noexcept { return client_.get(); }
  /// Gives up ownership: the caller frees it with dsp_client_free().
  /// Unregisters the event handler first.
  dsp_client *release() noexcept {
    if (handler_) {
      dsp_error_free(dsp_set_event_callback(client_.get(), nullptr, nullptr));
      handler_.reset();
    }
    return client_.release();
  }

  Status status() const {
    dsp_status s{};
    detail::check(dsp_status_get(client_.get(), &s));
    Status out;
    out.sandbox = s.sandbox;
    out.reader_present = s.reader_present;
    out.card_present = s.card_present;
    out.pinpad = s.pinpad;
    out.blocked = s.blocked;
    out.card_swapped = s.card_swapped;
    if (s.pin_tries_left >= 0) out.pin_tries_left = s.pin_tries_left;
    out.session = static_cast<SessionState>(s.session);
    out.outbox_queued = s.outbox_queued;
    out.outbox_waiting = s.outbox_waiting;
    out.outbox_failed = s.outbox_failed;
    out.outbox_done = s.outbox_done;
    return out;
  }

  /// Verifies the card's PIN and opens the platform session. A wrong PIN
  /// throws ErrorCode::WrongPin with pin_tries_left(). The library keeps
  /// no copy of the PIN.
  void unlock(const std::string &pin) const { detail::check(dsp_unlock(client_.get(), pin.c_str())); }

  /// Starts PIN entry on the reader's pinpad; answers at once (the outcome
  /// comes as a session event).
  void unlock_with_pinpad() const { detail::check(dsp_unlock(client_.get(), nullptr)); }

  /// Locks the session now.
  void lock() const { detail::check(dsp_lock(client_.get())); }

  /// Queues the file at `path` for the patient's DSP; answers once it is spooled.
  Pushed push_file(const std::string &path, const PushMetadata &metadata) const {
    const dsp_push_metadata m = c_metadata(metadata);
    char *job = nullptr;
    char *unique = nullptr;
    dsp_error *error = dsp_push_file(client_.get(), path.c_str(), &m, &job, &unique);
    return pushed(error, job, unique);
  }

  /// Queues `length` bytes at `data` as a document (sent over the socket).
  Pushed push_buffer(const void *data, std::size_t length, const PushMetadata &metadata) const {
    const dsp_push_metadata m = c_metadata(metadata);
    char *job = nullptr;
    char *unique = nullptr;
    dsp_error *error = dsp_push_buffer(client_.get(), static_cast<const std::uint8_t *>(data),
                                       static_cast<uintptr_t>(length), &m, &job, &unique);
    return pushed(error, job, unique);
  }

  Pushed push_buffer(const std::vector<std::uint8_t> &data, const PushMetadata &metadata) const {
    return push_buffer(data.data(), data.size(), metadata);
  }

  Pushed push_buffer(std::string_view data, const PushMetadata &metadata) const {
    return push_buffer(data.data(), data.size(), metadata);
  }

  /// Waits up to `timeout_ms` for the job to end; its state either way.
  JobState job_wait(const std::string &job_id, std::uint32_t timeout_ms = 60000) const {
    dsp_job_state state = DSP_JOB_QUEUED;
    detail::check(dsp_job_wait(client_.get(), job_id.c_str(), timeout_ms, &state));
    return static_cast<JobState>(state);
  }

  /// Changes a document's confidentiality mode, as the charter allows.
  void set_mode(const std::string &patient, const std::string &unique_id, Mode mode) const {
    detail::check(dsp_set_mode(client_.get(), patient.c_str(), unique_id.c_str(),
                               static_cast<std::uint32_t>(mode)));
  }

  /// The patient's documents this professional may see.
  DocumentList list(const std::string &patient) const {
    dsp_document_list *raw = nullptr;
    dsp_error *error = dsp_list(client_.get(), patient.c_str(), &raw);
    DocumentList list(raw);  // owned before anything can throw
    detail::check(error);
    return list;
  }

  /// Retrieves a document into the file `path` (absolute; it must not exist).
  void get_to_path(const std::string &patient, const std::string &unique_id,
                   const std::string &path) const {
    detail::check(dsp_get_to_path(client_.get(), patient.c_str(), unique_id.c_str(), path.c_str()));
  }

  /// A one-time URL opening the patient's DSP (a bearer secret: do not log
  /// it); the default browser is opened when `launch_browser`.
  std::string open_dsp(const std::string &patient, bool launch_browser = true) const {
    char *url = nullptr;
    dsp_error *error = dsp_open_dsp(client_.get(), patient.c_str(), launch_browser, &url);
    detail::OwnedString owned(url);
    detail::check(error);
    return detail::text(owned.get());
  }

  /// Opens access to a patient with their presence code (code de présence).
  void patient_access(const std::string &patient, const std::string &presence_code) const {
    detail::check(dsp_patient_access(client_.get(), patient.c_str(), presence_code.c_str()));
  }

  /// Reports an anomaly in a document to the platform's manager.
  void report_anomaly(const std::string &patient, const std::string &unique_id,
                      const std::string &description) const {
    detail::check(
        dsp_report_anomaly(client_.get(), patient.c_str(), unique_id.c_str(), description.c_str()));
  }

  /// Starts event delivery on this connection (card, session, job events).
  void subscribe() const { detail::check(dsp_subscribe(client_.get())); }

  /// The next event as JSON (docs/ipc.md), or none when none came within
  /// `timeout_ms`. Call subscribe() first.
  std::optional<std::string> next_event(std::uint32_t timeout_ms) const {
    char *json = nullptr;
    dsp_error *error = dsp_next_event(client_.get(), timeout_ms, &json);
    detail::OwnedString owned(json);
    detail::check(error);
    return detail::optional_text(owned.get());
  }

  /// Events by callback: `handler` runs on the library's event thread for
  /// each event (dsp_set_event_callback). An empty handler unregisters,
  /// waiting for a running call to return. The handler may call this
  /// client (its connection is not the handler's).
  void set_event_handler(EventHandler handler) {
    // Unregister first: the old handler is not destroyed under a running call.
    detail::check(dsp_set_event_callback(client_.get(), nullptr, nullptr));
    handler_.reset();
    if (!handler) return;
    auto owned = std::make_unique<EventHandler>(std::move(handler));
    detail::check(dsp_set_event_callback(client_.get(), &Client::on_event, owned.get()));
    handler_ = std::move(owned);
  }

  /// A job's state now, without waiting.
  JobInfo job_status(const std::string &job_id) const {
    dsp_job_info info{};
    info.size = sizeof(dsp_job_info);
    detail::check(dsp_job_status(client_.get(), job_id.c_str(), &info));
    JobInfo out;
    out.state = static_cast<JobState>(info.state);
    out.attempts = info.attempts;
    if (info.error_code != 0) out.error = static_cast<ErrorCode>(info.error_code);
    out.document_size = info.document_size;
    out.sent = info.sent;
    return out;
  }

  /// Queues a replacement (RPLC) of the document `replaces` by the file at `path`.
  Pushed replace_file(const std::string &replaces, const std::string &path,
                      const PushMetadata &metadata) const {
    const dsp_push_metadata m = c_metadata(metadata);
    char *job = nullptr;
    char *unique = nullptr;
    dsp_error *error =
        dsp_replace_file(client_.get(), replaces.c_str(), path.c_str(), &m, &job, &unique);
    return pushed(error, job, unique);
  }

  /// Queues a replacement (RPLC) of the document `replaces` by `length` bytes at `data`.
  Pushed replace_buffer(const std::string &replaces, const void *data, std::size_t length,
                        const PushMetadata &metadata) const {
    const dsp_push_metadata m = c_metadata(metadata);
    char *job = nullptr;
    char *unique = nullptr;
    dsp_error *error = dsp_replace_buffer(client_.get(), replaces.c_str(),
                                          static_cast<const std::uint8_t *>(data),
                                          static_cast<uintptr_t>(length), &m, &job, &unique);
    return pushed(error, job, unique);
  }

  /// Opens a password session (account and directory only); its state.
  SessionState password_login(const std::string &matricule, const std::string &password) const {
    dsp_session_state state = DSP_SESSION_NO_CARD;
    detail::check(dsp_password_login(client_.get(), matricule.c_str(), password.c_str(), &state));
    return static_cast<SessionState>(state);
  }

  /// Account activation, first step (the letter's code, matricule, e-mail).
  ActivationPending account_activate(const std::string &activation_code,
                                     const std::string &matricule,
                                     const std::string &email) const {
    char *sent_to = nullptr;
    char *expires = nullptr;
    dsp_error *error = dsp_account_activate(client_.get(), activation_code.c_str(),
                                            matricule.c_str(), email.c_str(), &sent_to, &expires);
    detail::OwnedString owned_sent_to(sent_to);
    detail::OwnedString owned_expires(expires);
    detail::check(error);
    ActivationPending out;
    out.email_sent_to = detail::text(owned_sent_to.get());
    out.code_expires_at = detail::text(owned_expires.get());
    return out;
  }

  /// Account activation, second step; the professional's eHealth id.
  std::string account_activate_confirm(const std::string &activation_code,
                                       const std::string &matricule,
                                       const std::string &email_code,
                                       const std::string &new_password) const {
    char *id = nullptr;
    dsp_error *error = dsp_account_activate_confirm(client_.get(), activation_code.c_str(),
                                                    matricule.c_str(), email_code.c_str(),
                                                    new_password.c_str(), &id);
    detail::OwnedString owned(id);
    detail::check(error);
    return detail::text(owned.get());
  }

  /// Changes the platform password.
  void change_password(const std::string &old_password, const std::string &new_password) const {
    detail::check(
        dsp_change_password(client_.get(), old_password.c_str(), new_password.c_str()));
  }

  /// Looks up professionals by eHealth id or by part of a name (one at least).
  std::vector<Professional> hpd_lookup(const std::optional<std::string> &ehealth_id,
                                       const std::optional<std::string> &name) const {
    dsp_professional_list *raw = nullptr;
    dsp_error *error = dsp_hpd_lookup(client_.get(), detail::c_str_or_null(ehealth_id),
                                      detail::c_str_or_null(name), &raw);
    std::unique_ptr<dsp_professional_list, detail::ProfessionalListDeleter> list(raw);
    detail::check(error);
    std::vector<Professional> out;
    for (std::size_t i = 0; list && i < list->count; ++i) {
      const dsp_professional &p = list->professionals[i];
      Professional copy;
      copy.ehealth_id = detail::text(p.ehealth_id);
      copy.name = detail::text(p.name);
      copy.profession = detail::optional_text(p.profession);
      copy.specialty = detail::optional_text(p.specialty);
      out.push_back(std::move(copy));
    }
    return out;
  }

  /// A small document's bytes and type (at most `max_size` bytes, else
  /// ErrorCode::FileTooLarge); nothing is written to disk.
  Retrieved get_to_buffer(const std::string &patient, const std::string &unique_id,
                          std::uint64_t max_size = 16u << 20) const {
    std::uint8_t *data = nullptr;
    uintptr_t length = 0;
    char *mime = nullptr;
    dsp_error *error = dsp_get_to_buffer(client_.get(), patient.c_str(), unique_id.c_str(),
                                         max_size, &data, &length, &mime);
    std::unique_ptr<std::uint8_t, detail::BufferDeleter> owned(data);
    detail::OwnedString owned_mime(mime);
    detail::check(error);
    Retrieved out;
    out.data.assign(owned.get(), owned.get() + length);
    out.mime_type = detail::text(owned_mime.get());
    return out;
  }

 private:
  static dsp_push_metadata c_metadata(const PushMetadata &m) noexcept {
    dsp_push_metadata c{};
    c.patient = m.patient.c_str();
    c.title = m.title.c_str();
    c.mode = static_cast<dsp_mode>(m.mode);
    c.patient_informed = m.patient_informed;
    c.mime_type = detail::c_str_or_null(m.mime_type);
    return c;
  }

  static Pushed pushed(dsp_error *error, char *job, char *unique) {
    detail::OwnedString owned_job(job);
    detail::OwnedString owned_unique(unique);
    detail::check(error);
    Pushed out;
    out.job_id = detail::text(owned_job.get());
    out.unique_id = detail::text(owned_unique.get());
    return out;
  }

  static void on_event(const char *event_json, void *user_data) noexcept {
    try {
      (*static_cast<EventHandler *>(user_data))(std::string_view(event_json));
    } catch (...) {
      // An exception must not unwind into the library.
    }
  }

  // Declared before client_, destroyed after it: the client's free joins
  // the event thread before the handler goes away.
  std::unique_ptr<EventHandler> handler_;
  std::unique_ptr<dsp_client, detail::ClientDeleter> client_;
};

}  // namespace dspconnect

#endif  // DSPCONNECT_HPP
