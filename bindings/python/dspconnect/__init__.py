"""dspconnect for Python: libdspconnect's C ABI through ctypes.

    from dspconnect import Client, Mode
    with Client() as dsp:                      # the default socket
        dsp.unlock("1234")
        job, unique_id = dsp.push_file("/path/report.pdf", patient="1945093006704",
                                       title="Lettre", mode=Mode.NORMAL,
                                       patient_informed=True)
        print(dsp.job_wait(job, 60_000))       # JobState.DONE
        for doc in dsp.list("1945093006704"):
            print(doc.unique_id, doc.title)

Errors raise DspError with the library's fixed code (DSP_E_… numbers,
docs/ipc.md), message, hint and field.

The library (libdspconnect.so, dspconnect.dll, libdspconnect.dylib) is
loaded at import, from the first of:

1. the path in $DSPCONNECT_LIBRARY, when set (nothing else is tried);
2. the file of that name next to this module (inside the installed
   ``dspconnect`` folder);
3. the system loader's search (LD_LIBRARY_PATH, ldconfig's cache; PATH on
   Windows).

A library that cannot be loaded raises OSError at import, saying where it
was looked for.
"""

from __future__ import annotations

import ctypes
import enum
import os
import sys
from dataclasses import dataclass
from typing import Any, Callable, List, Optional, Tuple, Union

__all__ = ["Client", "DspError", "Mode", "JobState", "SessionState", "Status", "Document",
           "JobInfo", "Professional", "version", "LIBRARY_ENV", "library_path"]

#: The environment variable naming the library file to load.
LIBRARY_ENV = "DSPCONNECT_LIBRARY"

_LIBRARY_NAME = {"win32": "dspconnect.dll", "darwin": "libdspconnect.dylib"}.get(
    sys.platform, "libdspconnect.so")


def _load() -> Tuple[ctypes.CDLL, str]:
    explicit = os.environ.get(LIBRARY_ENV)
    if explicit:
        try:
            return ctypes.CDLL(explicit), explicit
        except OSError as e:
            raise OSError(f"dspconnect: cannot load libdspconnect from ${LIBRARY_ENV}="
                          f"{explicit!r}: {e}") from e
    beside = os.path.join(os.path.dirname(os.path.abspath(__file__)), _LIBRARY_NAME)
    if os.path.exists(beside):
        try:
            return ctypes.CDLL(beside), beside
        except OSError as e:
            raise OSError(f"dspconnect: cannot load {beside}: {e}") from e
    try:
        return ctypes.CDLL(_LIBRARY_NAME), _LIBRARY_NAME
    except OSError as e:
        raise OSError(f"dspconnect: libdspconnect not found: ${LIBRARY_ENV} is not set, there is "
                      f"no {beside}, and the system loader did not find {_LIBRARY_NAME} "
                      f"(LD_LIBRARY_PATH, ldconfig): {e}") from e


_lib, _lib_path = _load()


def library_path() -> str:
    """Where the loaded library came from: a path, or the bare file name the
    system loader resolved."""
    return _lib_path

_c_char_p = ctypes.c_char_p
_void_p = ctypes.c_void_p


class Mode(enum.IntEnum):
    NORMAL = 0
    RESTREINT = 1
    PRIVE = 2
    VISITE_ANNONCE = 3


class SessionState(enum.IntEnum):
    NO_CARD = 0
    CARD_PRESENT = 1
    PINPAD_PENDING = 2
    UNLOCKED = 3
    AUTHENTICATED = 4
    EXPIRING = 5
    LOCKED = 6
    EXPIRED = 7
    BLOCKED = 8
    PASSWORD = 9


class JobState(enum.IntEnum):
    QUEUED = 0
    UPLOADING = 1
    WAITING_FOR_SESSION = 2
    RETRY_WAITING = 3
    DONE = 4
    FAILED = 5
    CONFLICT = 6


class _Status(ctypes.Structure):
    _fields_ = [
        ("sandbox", ctypes.c_bool),
        ("reader_present", ctypes.c_bool),
        ("card_present", ctypes.c_bool),
        ("pinpad", ctypes.c_bool),
        ("blocked", ctypes.c_bool),
        ("card_swapped", ctypes.c_bool),
        ("pin_tries_left", ctypes.c_int32),
        ("session", ctypes.c_uint32),
        ("outbox_queued", ctypes.c_uint32),
        ("outbox_waiting", ctypes.c_uint32),
        ("outbox_failed", ctypes.c_uint32),
        ("outbox_done", ctypes.c_uint32),
    ]


class _PushMetadata(ctypes.Structure):
    _fields_ = [
        ("patient", _c_char_p),
        ("title", _c_char_p),
        ("mode", ctypes.c_uint32),
        ("patient_informed", ctypes.c_bool),
        ("mime_type", _c_char_p),
    ]


class _Document(ctypes.Structure):
    _fields_ = [
        ("unique_id", _void_p),
        ("title", _void_p),
        ("mode", ctypes.c_uint32),
        ("mime_type", _void_p),
        ("size", ctypes.c_uint64),
        ("author", _void_p),
        ("creation_time", _void_p),
        ("deprecated", ctypes.c_bool),
    ]


class _DocumentList(ctypes.Structure):
    _fields_ = [("documents", ctypes.POINTER(_Document)), ("count", ctypes.c_size_t)]


class _Professional(ctypes.Structure):
    _fields_ = [
        ("ehealth_id", _void_p),
        ("name", _void_p),
        ("profession", _void_p),
        ("specialty", _void_p),
    ]


class _ProfessionalList(ctypes.Structure):
    _fields_ = [("professionals", ctypes.POINTER(_Professional)), ("count", ctypes.c_size_t)]


class _JobInfo(ctypes.Structure):
    _fields_ = [
        ("size", ctypes.c_uint32),
        ("state", ctypes.c_uint32),
        ("attempts", ctypes.c_uint32),
        ("error_code", ctypes.c_uint32),
        ("document_size", ctypes.c_uint64),
        ("sent", ctypes.c_uint64),
    ]


# void (*dsp_event_callback)(const char *event_json, void *user_data)
_EventCallback = ctypes.CFUNCTYPE(None, ctypes.c_char_p, _void_p)


def _sig(name: str, restype: Any, *argtypes: Any) -> Any:
    f = getattr(_lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


_version = _sig("dsp_version", _void_p)
_error_code = _sig("dsp_error_code", ctypes.c_uint32, _void_p)
_error_message = _sig("dsp_error_message", _void_p, _void_p)
_error_hint = _sig("dsp_error_hint", _void_p, _void_p)
_error_field = _sig("dsp_error_field", _void_p, _void_p)
_error_tries = _sig("dsp_error_pin_tries_left", ctypes.c_int32, _void_p)
_error_free = _sig("dsp_error_free", None, _void_p)
_string_free = _sig("dsp_string_free", None, _void_p)
_connect = _sig("dsp_connect", _void_p, _c_char_p, ctypes.c_uint32, ctypes.POINTER(_void_p))
_client_free = _sig("dsp_client_free", None, _void_p)
_status_get = _sig("dsp_status_get", _void_p, _void_p, ctypes.POINTER(_Status))
_unlock = _sig("dsp_unlock", _void_p, _void_p, _c_char_p)
_lock = _sig("dsp_lock", _void_p, _void_p)
_push_file = _sig("dsp_push_file", _void_p, _void_p, _c_char_p, ctypes.POINTER(_PushMetadata),
                  ctypes.POINTER(_void_p), ctypes.POINTER(_void_p))
_push_buffer = _sig("dsp_push_buffer", _void_p, _void_p, ctypes.c_char_p, ctypes.c_size_t,
                    ctypes.POINTER(_PushMetadata), ctypes.POINTER(_void_p), ctypes.POINTER(_void_p))
_job_wait = _sig("dsp_job_wait", _void_p, _void_p, _c_char_p, ctypes.c_uint32,
                 ctypes.POINTER(ctypes.c_uint32))
_set_mode = _sig("dsp_set_mode", _void_p, _void_p, _c_char_p, _c_char_p, ctypes.c_uint32)
_list = _sig("dsp_list", _void_p, _void_p, _c_char_p, ctypes.POINTER(ctypes.POINTER(_DocumentList)))
_list_free = _sig("dsp_document_list_free", None, ctypes.POINTER(_DocumentList))
_get_to_path = _sig("dsp_get_to_path", _void_p, _void_p, _c_char_p, _c_char_p, _c_char_p)
_open_dsp = _sig("dsp_open_dsp", _void_p, _void_p, _c_char_p, ctypes.c_bool, ctypes.POINTER(_void_p))
_patient_access = _sig("dsp_patient_access", _void_p, _void_p, _c_char_p, _c_char_p)
_report_anomaly = _sig("dsp_report_anomaly", _void_p, _void_p, _c_char_p, _c_char_p, _c_char_p)
_subscribe = _sig("dsp_subscribe", _void_p, _void_p)
_next_event = _sig("dsp_next_event", _void_p, _void_p, ctypes.c_uint32, ctypes.POINTER(_void_p))
_set_event_callback = _sig("dsp_set_event_callback", _void_p, _void_p, _EventCallback, _void_p)
_job_status = _sig("dsp_job_status", _void_p, _void_p, _c_char_p, ctypes.POINTER(_JobInfo))
_replace_file = _sig("dsp_replace_file", _void_p, _void_p, _c_char_p, _c_char_p,
                     ctypes.POINTER(_PushMetadata), ctypes.POINTER(_void_p), ctypes.POINTER(_void_p))
_replace_buffer = _sig("dsp_replace_buffer", _void_p, _void_p, _c_char_p, ctypes.c_char_p,
                       ctypes.c_size_t, ctypes.POINTER(_PushMetadata), ctypes.POINTER(_void_p),
                       ctypes.POINTER(_void_p))
_password_login = _sig("dsp_password_login", _void_p, _void_p, _c_char_p, _c_char_p,
                       ctypes.POINTER(ctypes.c_uint32))
_account_activate = _sig("dsp_account_activate", _void_p, _void_p, _c_char_p, _c_char_p, _c_char_p,
                         ctypes.POINTER(_void_p), ctypes.POINTER(_void_p))
_account_activate_confirm = _sig("dsp_account_activate_confirm", _void_p, _void_p, _c_char_p,
                                 _c_char_p, _c_char_p, _c_char_p, ctypes.POINTER(_void_p))
_change_password = _sig("dsp_change_password", _void_p, _void_p, _c_char_p, _c_char_p)
_hpd_lookup = _sig("dsp_hpd_lookup", _void_p, _void_p, _c_char_p, _c_char_p,
                   ctypes.POINTER(ctypes.POINTER(_ProfessionalList)))
_professional_list_free = _sig("dsp_professional_list_free", None, ctypes.POINTER(_ProfessionalList))
_get_to_buffer = _sig("dsp_get_to_buffer", _void_p, _void_p, _c_char_p, _c_char_p, ctypes.c_uint64,
                      ctypes.POINTER(ctypes.POINTER(ctypes.c_uint8)), ctypes.POINTER(ctypes.c_size_t),
                      ctypes.POINTER(_void_p))
_buffer_free = _sig("dsp_buffer_free", None, ctypes.POINTER(ctypes.c_uint8))


_Pointer = Union[int, None, _void_p]


def _text(ptr: _Pointer) -> Optional[str]:
    if isinstance(ptr, _void_p):
        ptr = ptr.value
    return None if not ptr else ctypes.string_at(ptr).decode("utf-8")


def _take_string(ptr: _void_p) -> Optional[str]:
    """A string the library returned: decoded, then freed by the library."""
    try:
        return _text(ptr)
    finally:
        _string_free(ptr)


def _take_required(ptr: _void_p, what: str) -> str:
    text = _take_string(ptr)
    if text is None:
        raise DspError(203, f"libdspconnect returned no {what}")
    return text


def _b(text: Optional[str]) -> Optional[bytes]:
    return None if text is None else text.encode("utf-8")


class DspError(Exception):
    """A libdspconnect error: `code` is the fixed DSP_E_… number."""

    def __init__(self, code: int, message: str, hint: Optional[str] = None,
                 field: Optional[str] = None, pin_tries_left: Optional[int] = None) -> None:
        super().__init__(f"[{code}] {message}" + (f" (hint: {hint})" if hint else ""))
        self.code = code
        self.message = message
        self.hint = hint
        self.field = field
        self.pin_tries_left = pin_tries_left


def _check(error: _Pointer) -> None:
    if not error:
        return
    try:
        tries = _error_tries(error)
        raise DspError(_error_code(error), _text(_error_message(error)) or "",
                       _text(_error_hint(error)), _text(_error_field(error)),
                       None if tries < 0 else tries)
    finally:
        _error_free(error)


def version() -> str:
    """The library's version (the crate's)."""
    return _text(_version()) or ""


@dataclass(frozen=True)
class Status:
    sandbox: bool
    reader_present: bool
    card_present: bool
    pinpad: bool
    blocked: bool
    card_swapped: bool
    pin_tries_left: Optional[int]
    session: SessionState
    outbox_queued: int
    outbox_waiting: int
    outbox_failed: int
    outbox_done: int


@dataclass(frozen=True)
class Document:
    unique_id: str
    title: str
    mode: Mode
    mime_type: str
    size: int
    author: str
    creation_time: str
    deprecated: bool


@dataclass(frozen=True)
class JobInfo:
    state: JobState
    attempts: int
    error_code: Optional[int]
    document_size: int
    sent: int


@dataclass(frozen=True)
class Professional:
    ehealth_id: str
    name: str
    profession: Optional[str]
    specialty: Optional[str]


_PathLike = Union[str, "os.PathLike[str]"]


class Client:
    """One connection to dspconnectd (a context manager)."""

    def __init__(self, socket: Optional[_PathLike] = None, timeout_ms: int = 30_000) -> None:
        self._handle: Optional[_void_p] = None
        self._callback: Any = None
        handle = _void_p()
        _check(_connect(None if socket is None else os.fsencode(socket), timeout_ms,
                        ctypes.byref(handle)))
        self._handle = handle

    def close(self) -> None:
        if self._handle:
            _client_free(self._handle)  # joins the event thread (ctypes releases the GIL)
            self._handle = None
        self._callback = None

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()

    def status(self) -> Status:
        s = _Status()
        _check(_status_get(self._handle, ctypes.byref(s)))
        return Status(s.sandbox, s.reader_present, s.card_present, s.pinpad, s.blocked,
                      s.card_swapped, None if s.pin_tries_left < 0 else s.pin_tries_left,
                      SessionState(s.session), s.outbox_queued, s.outbox_waiting,
                      s.outbox_failed, s.outbox_done)

    def unlock(self, pin: Optional[str] = None) -> None:
        """The card's PIN; None starts entry on the reader's pinpad."""
        _check(_unlock(self._handle, _b(pin)))

    def lock(self) -> None:
        _check(_lock(self._handle))

    @staticmethod
    def _metadata(patient: str, title: str, mode: Mode, patient_informed: bool,
                  mime_type: Optional[str]) -> _PushMetadata:
        return _PushMetadata(_b(patient), _b(title), int(mode), bool(patient_informed),
                             _b(mime_type))

    def _push(self, call: Any, *args: Any) -> Tuple[str, str]:
        job, unique_id = _void_p(), _void_p()
        _check(call(self._handle, *args, ctypes.byref(job), ctypes.byref(unique_id)))
        return _take_required(job, "job id"), _take_required(unique_id, "uniqueId")

    def push_file(self, path: _PathLike, *, patient: str, title: str, mode: Mode = Mode.NORMAL,
                  patient_informed: bool, mime_type: Optional[str] = None) -> Tuple[str, str]:
        """Queues the file; (job id, the document's uniqueId)."""
        m = self._metadata(patient, title, mode, patient_informed, mime_type)
        return self._push(_push_file, os.fsencode(os.path.abspath(path)), ctypes.byref(m))

    def push_bytes(self, data: bytes, *, patient: str, title: str, mode: Mode = Mode.NORMAL,
                   patient_informed: bool, mime_type: Optional[str] = None) -> Tuple[str, str]:
        """Queues `data` as a document; (job id, the document's uniqueId)."""
        m = self._metadata(patient, title, mode, patient_informed, mime_type)
        return self._push(_push_buffer, bytes(data), len(data), ctypes.byref(m))

    def job_wait(self, job_id: str, timeout_ms: int = 60_000) -> JobState:
        state = ctypes.c_uint32()
        _check(_job_wait(self._handle, _b(job_id), timeout_ms, ctypes.byref(state)))
        return JobState(state.value)

    def set_mode(self, patient: str, unique_id: str, mode: Mode) -> None:
        _check(_set_mode(self._handle, _b(patient), _b(unique_id), int(mode)))

    def list(self, patient: str) -> List[Document]:
        out = ctypes.POINTER(_DocumentList)()
        _check(_list(self._handle, _b(patient), ctypes.byref(out)))
        try:
            return [Document(_text(d.unique_id) or "", _text(d.title) or "", Mode(d.mode),
                             _text(d.mime_type) or "", d.size, _text(d.author) or "",
                             _text(d.creation_time) or "", d.deprecated)
                    for d in (out.contents.documents[i] for i in range(out.contents.count))]
        finally:
            _list_free(out)

    def get_to_path(self, patient: str, unique_id: str, path: _PathLike) -> None:
        _check(_get_to_path(self._handle, _b(patient), _b(unique_id),
                            os.fsencode(os.path.abspath(path))))

    def open_dsp(self, patient: str, launch_browser: bool = True) -> str:
        url = _void_p()
        _check(_open_dsp(self._handle, _b(patient), launch_browser, ctypes.byref(url)))
        return _take_required(url, "URL")

    def patient_access(self, patient: str, presence_code: str) -> None:
        _check(_patient_access(self._handle, _b(patient), _b(presence_code)))

    def report_anomaly(self, patient: str, unique_id: str, description: str) -> None:
        _check(_report_anomaly(self._handle, _b(patient), _b(unique_id), _b(description)))

    def subscribe(self) -> None:
        _check(_subscribe(self._handle))

    def next_event(self, timeout_ms: int) -> Optional[str]:
        """The next event as JSON text (after subscribe()), or None."""
        event = _void_p()
        _check(_next_event(self._handle, timeout_ms, ctypes.byref(event)))
        return _take_string(event)

    def set_event_callback(self, callback: Optional[Callable[[str], object]]) -> None:
        """`callback(event_json: str)` for every event, on the library's event
        thread; None unregisters (waiting for a running call to return). An
        exception it raises is printed by ctypes and does not stop events."""
        if callback is None:
            _check(_set_event_callback(self._handle, _EventCallback(), None))
            self._callback = None
            return

        def trampoline(event_json: bytes, _user_data: Optional[int]) -> None:
            callback(event_json.decode("utf-8"))

        c_callback = _EventCallback(trampoline)
        _check(_set_event_callback(self._handle, c_callback, None))
        self._callback = c_callback  # kept alive while the library may call it

    def job_status(self, job_id: str) -> JobInfo:
        info = _JobInfo(size=ctypes.sizeof(_JobInfo))
        _check(_job_status(self._handle, _b(job_id), ctypes.byref(info)))
        return JobInfo(JobState(info.state), info.attempts, info.error_code or None,
                       info.document_size, info.sent)

    def replace_file(self, replaces: str, path: _PathLike, *, patient: str, title: str,
                     mode: Mode = Mode.NORMAL, patient_informed: bool,
                     mime_type: Optional[str] = None) -> Tuple[str, str]:
        """Queues a replacement (RPLC) of the document `replaces` by the file;
        (job id, the new document's uniqueId)."""
        m = self._metadata(patient, title, mode, patient_informed, mime_type)
        return self._push(_replace_file, _b(replaces), os.fsencode(os.path.abspath(path)),
                          ctypes.byref(m))

    def replace_bytes(self, replaces: str, data: bytes, *, patient: str, title: str,
                      mode: Mode = Mode.NORMAL, patient_informed: bool,
                      mime_type: Optional[str] = None) -> Tuple[str, str]:
        """Queues a replacement (RPLC) of the document `replaces` by `data`;
        (job id, the new document's uniqueId)."""
        m = self._metadata(patient, title, mode, patient_informed, mime_type)
        return self._push(_replace_buffer, _b(replaces), bytes(data), len(data), ctypes.byref(m))

    def password_login(self, matricule: str, password: str) -> SessionState:
        state = ctypes.c_uint32()
        _check(_password_login(self._handle, _b(matricule), _b(password), ctypes.byref(state)))
        return SessionState(state.value)

    def account_activate(self, activation_code: str, matricule: str,
                         email: str) -> Tuple[str, str]:
        """First activation step: (address the code went to, masked; code expiry)."""
        sent_to, expires = _void_p(), _void_p()
        error = _account_activate(self._handle, _b(activation_code), _b(matricule), _b(email),
                                  ctypes.byref(sent_to), ctypes.byref(expires))
        result = (_take_string(sent_to), _take_string(expires))
        _check(error)
        return result[0] or "", result[1] or ""

    def account_activate_confirm(self, activation_code: str, matricule: str, email_code: str,
                                 new_password: str) -> str:
        """Second activation step: the professional's eHealth id."""
        ehealth_id = _void_p()
        error = _account_activate_confirm(self._handle, _b(activation_code), _b(matricule),
                                          _b(email_code), _b(new_password), ctypes.byref(ehealth_id))
        result = _take_string(ehealth_id)
        _check(error)
        return result or ""

    def change_password(self, old_password: str, new_password: str) -> None:
        _check(_change_password(self._handle, _b(old_password), _b(new_password)))

    def hpd_lookup(self, ehealth_id: Optional[str] = None,
                   name: Optional[str] = None) -> List[Professional]:
        out = ctypes.POINTER(_ProfessionalList)()
        _check(_hpd_lookup(self._handle, _b(ehealth_id), _b(name), ctypes.byref(out)))
        try:
            return [Professional(_text(p.ehealth_id) or "", _text(p.name) or "",
                                 _text(p.profession), _text(p.specialty))
                    for p in (out.contents.professionals[i] for i in range(out.contents.count))]
        finally:
            _professional_list_free(out)

    def get_bytes(self, patient: str, unique_id: str,
                  max_size: int = 16 << 20) -> Tuple[bytes, Optional[str]]:
        """A small document's (bytes, MIME type); nothing is written to disk."""
        data = ctypes.POINTER(ctypes.c_uint8)()
        length = ctypes.c_size_t()
        mime = _void_p()
        error = _get_to_buffer(self._handle, _b(patient), _b(unique_id), max_size,
                               ctypes.byref(data), ctypes.byref(length), ctypes.byref(mime))
        try:
            mime_type = _take_string(mime)
            _check(error)
            return ctypes.string_at(data, length.value), mime_type
        finally:
            _buffer_free(data)
