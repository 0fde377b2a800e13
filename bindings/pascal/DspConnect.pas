{
  DspConnect — libdspconnect's C ABI (include/dspconnect.h) for Delphi and
  Free Pascal, and a small class wrapper over it.

    uses DspConnect;
    var Dsp: TDspClient; M: TDspPushMetadata; Pushed: TDspPushed;
    begin
      Dsp := TDspClient.Create('');          // '' = the default socket
      try
        Dsp.Unlock('1234');
        M := TDspPushMetadata.Make('1945093006704', 'Lettre', DSP_MODE_RESTREINT, True);
        Pushed := Dsp.PushFile('/abs/path/report.pdf', M);
        if Dsp.JobWait(Pushed.JobId, 60000) = DSP_JOB_DONE then ...
      finally
        Dsp.Free;
      end;
    end;

  Every failed call raises EDspError (Code: the library's fixed DSP_E_
  number, docs/ipc.md; Hint; Field; PinTriesLeft); the dsp_error is always
  freed. Strings go in and come out as UTF-8 (UTF8String); every string
  the library returns is copied, then freed with dsp_string_free.

  The low-level declarations mirror the header one for one: every export,
  cdecl, with records laid out as the C structs (C alignment; the header's
  fixed-width integer types; C bool as the 1-byte Boolean).

  Free Pascal: fpc -Mdelphi -Fu<this folder> app.pas -Fl<libdir>
  Delphi: add this unit; dspconnect.dll / libdspconnect.so on the loader's path.
}
unit DspConnect;

{$IFDEF FPC}{$MODE DELPHI}{$ENDIF}
{ The records below are laid out as C lays out the structs. }
{$IFDEF FPC}
  {$PACKRECORDS C}
{$ELSE}
  {$ALIGN 8}
{$ENDIF}

interface

uses
  SysUtils;

const
{$IFDEF MSWINDOWS}
  DspLibrary = 'dspconnect.dll';
{$ELSE}
  {$IFDEF FPC}
  DspLibrary = 'dspconnect';          // linked as -ldspconnect
  {$ELSE}
  {$IFDEF MACOS}
  DspLibrary = 'libdspconnect.dylib';
  {$ELSE}
  DspLibrary = 'libdspconnect.so';
  {$ENDIF}
  {$ENDIF}
{$ENDIF}

type
  { The header's integer types. }
  dsp_uint32 = UInt32;
  dsp_int32 = Int32;
  dsp_uint64 = UInt64;
  dsp_uintptr = NativeUInt;           // uintptr_t
  dsp_bool = Boolean;                 // C bool: one byte, 0 or 1
  Pdsp_uintptr = ^dsp_uintptr;
  PPByte = ^PByte;

  { enum dsp_session_state : uint32_t }
  dsp_session_state = dsp_uint32;
  Pdsp_session_state = ^dsp_session_state;
  { enum dsp_mode : uint32_t }
  dsp_mode = dsp_uint32;
  { enum dsp_job_state : uint32_t }
  dsp_job_state = dsp_uint32;
  Pdsp_job_state = ^dsp_job_state;

const
  DSP_SESSION_NO_CARD = 0;
  DSP_SESSION_CARD_PRESENT = 1;
  DSP_SESSION_PINPAD_PENDING = 2;
  DSP_SESSION_UNLOCKED = 3;
  DSP_SESSION_AUTHENTICATED = 4;
  DSP_SESSION_EXPIRING = 5;
  DSP_SESSION_LOCKED = 6;
  DSP_SESSION_EXPIRED = 7;
  DSP_SESSION_BLOCKED = 8;
  DSP_SESSION_PASSWORD = 9;

  DSP_MODE_NORMAL = 0;
  DSP_MODE_RESTREINT = 1;
  DSP_MODE_PRIVE = 2;
  DSP_MODE_VISITE_ANNONCE = 3;

  DSP_JOB_QUEUED = 0;
  DSP_JOB_UPLOADING = 1;
  DSP_JOB_WAITING_FOR_SESSION = 2;
  DSP_JOB_RETRY_WAITING = 3;
  DSP_JOB_DONE = 4;
  DSP_JOB_FAILED = 5;
  DSP_JOB_CONFLICT = 6;

  { The library's fixed error codes (docs/ipc.md, "Errors"). }
  DSP_E_INVALID_ARGUMENT = 100;
  DSP_E_NULL_ARGUMENT = 101;
  DSP_E_INVALID_UTF8 = 102;
  DSP_E_STRUCT_VERSION = 103;
  DSP_E_PANIC = 104;
  DSP_E_DAEMON_NOT_RUNNING = 200;
  DSP_E_CONNECTION_LOST = 201;
  DSP_E_TIMEOUT = 202;
  DSP_E_PROTOCOL = 203;
  DSP_E_LINE_TOO_LONG = 204;
  DSP_E_PARSE_ERROR = 205;
  DSP_E_METHOD_NOT_FOUND = 206;
  DSP_E_INVALID_PARAMS = 207;
  DSP_E_PERMISSION_DENIED = 208;
  DSP_E_BAD_MATRICULE = 300;
  DSP_E_FILE_NOT_FOUND = 301;
  DSP_E_NOT_A_FILE = 302;
  DSP_E_UNSUPPORTED_MIME_TYPE = 303;
  DSP_E_FILE_TOO_LARGE = 304;
  DSP_E_EMPTY_FILE = 305;
  DSP_E_BAD_METADATA = 306;
  DSP_E_BAD_MODE = 307;
  DSP_E_MISSING_PATIENT_STATEMENT = 308;
  DSP_E_BAD_PRESENCE_CODE = 309;
  DSP_E_BAD_PIN = 310;
  DSP_E_WEAK_PASSWORD = 311;
  DSP_E_BAD_OUTPUT_PATH = 312;
  DSP_E_UNKNOWN_JOB = 313;
  DSP_E_UNKNOWN_DOCUMENT = 314;
  DSP_E_NO_READER = 400;
  DSP_E_NO_CARD = 401;
  DSP_E_WRONG_PIN = 402;
  DSP_E_CARD_BLOCKED = 403;
  DSP_E_SESSION_LOCKED = 404;
  DSP_E_NOT_AUTHENTICATED = 405;
  DSP_E_SESSION_EXPIRED = 406;
  DSP_E_PINPAD_PENDING = 407;
  DSP_E_CARD_SWAPPED = 408;
  DSP_E_CERTIFICATE_NOT_VALID = 409;
  DSP_E_CARD_ERROR = 410;
  DSP_E_TEST_CARD_REFUSED = 411;
  DSP_E_PASSWORD_SESSION_LIMITED = 412;
  DSP_E_PLATFORM_UNREACHABLE = 500;
  DSP_E_TLS = 501;
  DSP_E_AUTHENTICATION_REFUSED = 502;
  DSP_E_ACCESS_DENIED = 503;
  DSP_E_MODE_CHANGE_REFUSED = 504;
  DSP_E_CONFLICT = 505;
  DSP_E_REGISTRY = 506;
  DSP_E_PRESENCE_CODE_REFUSED = 507;
  DSP_E_GRANT_EXPIRED = 508;
  DSP_E_ACTIVATION_REFUSED = 509;
  DSP_E_PLATFORM = 510;
  DSP_E_INTERNAL = 900;
  DSP_E_IO = 901;
  DSP_E_CONFIG = 902;

type
  { Opaque handles. }
  dsp_client = record end;
  Pdsp_client = ^dsp_client;
  PPdsp_client = ^Pdsp_client;
  dsp_error = record end;
  Pdsp_error = ^dsp_error;

  { typedef struct dsp_status }
  dsp_status = record
    sandbox: dsp_bool;
    reader_present: dsp_bool;
    card_present: dsp_bool;
    pinpad: dsp_bool;
    blocked: dsp_bool;
    card_swapped: dsp_bool;
    pin_tries_left: dsp_int32;          // -1 when unknown
    session: dsp_session_state;
    outbox_queued: dsp_uint32;
    outbox_waiting: dsp_uint32;
    outbox_failed: dsp_uint32;
    outbox_done: dsp_uint32;
  end;
  Pdsp_status = ^dsp_status;

  { typedef struct dsp_push_metadata }
  dsp_push_metadata = record
    patient: PAnsiChar;                 // UTF-8, required
    title: PAnsiChar;                   // UTF-8, required
    mode: dsp_mode;
    patient_informed: dsp_bool;
    mime_type: PAnsiChar;               // nil: recognised from the content
  end;
  Pdsp_push_metadata = ^dsp_push_metadata;

  { typedef struct dsp_document }
  dsp_document = record
    unique_id: PAnsiChar;
    title: PAnsiChar;
    mode: dsp_mode;
    mime_type: PAnsiChar;
    size: dsp_uint64;
    author: PAnsiChar;
    creation_time: PAnsiChar;
    deprecated: dsp_bool;
  end;
  Pdsp_document = ^dsp_document;

  { typedef struct dsp_document_list }
  dsp_document_list = record
    documents: Pdsp_document;
    count: dsp_uintptr;
  end;
  Pdsp_document_list = ^dsp_document_list;
  PPdsp_document_list = ^Pdsp_document_list;

  { typedef struct dsp_professional }
  dsp_professional = record
    ehealth_id: PAnsiChar;
    name: PAnsiChar;
    profession: PAnsiChar;              // nil when the directory does not say
    specialty: PAnsiChar;               // nil when the directory does not say
  end;
  Pdsp_professional = ^dsp_professional;

  { typedef struct dsp_professional_list }
  dsp_professional_list = record
    professionals: Pdsp_professional;
    count: dsp_uintptr;
  end;
  Pdsp_professional_list = ^dsp_professional_list;
  PPdsp_professional_list = ^Pdsp_professional_list;

  { typedef struct dsp_job_info; set size to SizeOf(dsp_job_info) first }
  dsp_job_info = record
    size: dsp_uint32;
    state: dsp_job_state;
    attempts: dsp_uint32;
    error_code: dsp_uint32;             // a failed job's DSP_E_ code, else 0
    document_size: dsp_uint64;
    sent: dsp_uint64;
  end;
  Pdsp_job_info = ^dsp_job_info;

  { typedef void (*dsp_event_callback)(const char *event_json, void *user_data);
    called on the library's event thread (see dsp_set_event_callback). }
  dsp_event_callback = procedure(event_json: PAnsiChar; user_data: Pointer); cdecl;

{ The exports, one for one with include/dspconnect.h. }
function dsp_connect(socket: PAnsiChar; timeout_ms: dsp_uint32; out_client: PPdsp_client): Pdsp_error;
  cdecl; external DspLibrary name 'dsp_connect';
procedure dsp_client_free(client: Pdsp_client);
  cdecl; external DspLibrary name 'dsp_client_free';
function dsp_status_get(client: Pdsp_client; out_status: Pdsp_status): Pdsp_error;
  cdecl; external DspLibrary name 'dsp_status_get';
function dsp_unlock(client: Pdsp_client; pin: PAnsiChar): Pdsp_error;
  cdecl; external DspLibrary name 'dsp_unlock';
function dsp_lock(client: Pdsp_client): Pdsp_error;
  cdecl; external DspLibrary name 'dsp_lock';
function dsp_push_file(client: Pdsp_client; path: PAnsiChar; metadata: Pdsp_push_metadata;
  job_id: PPAnsiChar; unique_id: PPAnsiChar): Pdsp_error;
  cdecl; external DspLibrary name 'dsp_push_file';
function dsp_push_buffer(client: Pdsp_client; data: PByte; length: dsp_uintptr;
  metadata: Pdsp_push_metadata; job_id: PPAnsiChar; unique_id: PPAnsiChar): Pdsp_error;
  cdecl; external DspLibrary name 'dsp_push_buffer';
function dsp_job_wait(client: Pdsp_client; job_id: PAnsiChar; timeout_ms: dsp_uint32;
  state: Pdsp_job_state): Pdsp_error;
  cdecl; external DspLibrary name 'dsp_job_wait';
function dsp_set_mode(client: Pdsp_client; patient: PAnsiChar; unique_id: PAnsiChar;
  mode: dsp_uint32): Pdsp_error;
  cdecl; external DspLibrary name 'dsp_set_mode';
function dsp_list(client: Pdsp_client; patient: PAnsiChar; out_list: PPdsp_document_list): Pdsp_error;
  cdecl; external DspLibrary name 'dsp_list';
procedure dsp_document_list_free(list: Pdsp_document_list);
  cdecl; external DspLibrary name 'dsp_document_list_free';
function dsp_get_to_path(client: Pdsp_client; patient: PAnsiChar; unique_id: PAnsiChar;
  path: PAnsiChar): Pdsp_error;
  cdecl; external DspLibrary name 'dsp_get_to_path';
function dsp_open_dsp(client: Pdsp_client; patient: PAnsiChar; launch_browser: dsp_bool;
  url: PPAnsiChar): Pdsp_error;
  cdecl; external DspLibrary name 'dsp_open_dsp';
function dsp_patient_access(client: Pdsp_client; patient: PAnsiChar;
  presence_code: PAnsiChar): Pdsp_error;
  cdecl; external DspLibrary name 'dsp_patient_access';
function dsp_report_anomaly(client: Pdsp_client; patient: PAnsiChar; unique_id: PAnsiChar;
  description: PAnsiChar): Pdsp_error;
  cdecl; external DspLibrary name 'dsp_report_anomaly';
function dsp_subscribe(client: Pdsp_client): Pdsp_error;
  cdecl; external DspLibrary name 'dsp_subscribe';
function dsp_next_event(client: Pdsp_client; timeout_ms: dsp_uint32;
  event_json: PPAnsiChar): Pdsp_error;
  cdecl; external DspLibrary name 'dsp_next_event';
function dsp_set_event_callback(client: Pdsp_client; callback: dsp_event_callback;
  user_data: Pointer): Pdsp_error;
  cdecl; external DspLibrary name 'dsp_set_event_callback';
function dsp_job_status(client: Pdsp_client; job_id: PAnsiChar; info: Pdsp_job_info): Pdsp_error;
  cdecl; external DspLibrary name 'dsp_job_status';
function dsp_replace_file(client: Pdsp_client; replaces: PAnsiChar; path: PAnsiChar;
  metadata: Pdsp_push_metadata; job_id: PPAnsiChar; unique_id: PPAnsiChar): Pdsp_error;
  cdecl; external DspLibrary name 'dsp_replace_file';
function dsp_replace_buffer(client: Pdsp_client; replaces: PAnsiChar; data: PByte;
  length: dsp_uintptr; metadata: Pdsp_push_metadata; job_id: PPAnsiChar;
  unique_id: PPAnsiChar): Pdsp_error;
  cdecl; external DspLibrary name 'dsp_replace_buffer';
function dsp_password_login(client: Pdsp_client; matricule: PAnsiChar; password: PAnsiChar;
  state: Pdsp_session_state): Pdsp_error;
  cdecl; external DspLibrary name 'dsp_password_login';
function dsp_account_activate(client: Pdsp_client; activation_code: PAnsiChar;
  matricule: PAnsiChar; email: PAnsiChar; email_sent_to: PPAnsiChar;
  code_expires_at: PPAnsiChar): Pdsp_error;
  cdecl; external DspLibrary name 'dsp_account_activate';
function dsp_account_activate_confirm(client: Pdsp_client; activation_code: PAnsiChar;
  matricule: PAnsiChar; email_code: PAnsiChar; new_password: PAnsiChar;
  ehealth_id: PPAnsiChar): Pdsp_error;
  cdecl; external DspLibrary name 'dsp_account_activate_confirm';
function dsp_change_password(client: Pdsp_client; old_password: PAnsiChar;
  new_password: PAnsiChar): Pdsp_error;
  cdecl; external DspLibrary name 'dsp_change_password';
function dsp_hpd_lookup(client: Pdsp_client; ehealth_id: PAnsiChar; name_part: PAnsiChar;
  out_list: PPdsp_professional_list): Pdsp_error;
  cdecl; external DspLibrary name 'dsp_hpd_lookup';
procedure dsp_professional_list_free(list: Pdsp_professional_list);
  cdecl; external DspLibrary name 'dsp_professional_list_free';
function dsp_get_to_buffer(client: Pdsp_client; patient: PAnsiChar; unique_id: PAnsiChar;
  max_size: dsp_uint64; data: PPByte; length: Pdsp_uintptr; mime_type: PPAnsiChar): Pdsp_error;
  cdecl; external DspLibrary name 'dsp_get_to_buffer';
procedure dsp_buffer_free(data: PByte);
  cdecl; external DspLibrary name 'dsp_buffer_free';
function dsp_error_code(error: Pdsp_error): dsp_uint32;
  cdecl; external DspLibrary name 'dsp_error_code';
function dsp_error_message(error: Pdsp_error): PAnsiChar;
  cdecl; external DspLibrary name 'dsp_error_message';
function dsp_error_hint(error: Pdsp_error): PAnsiChar;
  cdecl; external DspLibrary name 'dsp_error_hint';
function dsp_error_field(error: Pdsp_error): PAnsiChar;
  cdecl; external DspLibrary name 'dsp_error_field';
function dsp_error_pin_tries_left(error: Pdsp_error): dsp_int32;
  cdecl; external DspLibrary name 'dsp_error_pin_tries_left';
procedure dsp_error_free(error: Pdsp_error);
  cdecl; external DspLibrary name 'dsp_error_free';
procedure dsp_string_free(s: PAnsiChar);
  cdecl; external DspLibrary name 'dsp_string_free';
function dsp_version: PAnsiChar;
  cdecl; external DspLibrary name 'dsp_version';

{ ---- The class wrapper ---- }

type
  { A failed call: the library's error, copied out of its dsp_error. }
  EDspError = class(Exception)
  private
    FCode: UInt32;
    FHint: UTF8String;
    FField: UTF8String;
    FPinTriesLeft: Integer;
  public
    constructor CreateDsp(ACode: UInt32; const AMessage, AHint, AField: UTF8String;
      APinTriesLeft: Integer);
    { The fixed code (DSP_E_...). }
    property Code: UInt32 read FCode;
    { What the user can do about it; '' when the library says nothing. }
    property Hint: UTF8String read FHint;
    { The request field at fault (metadata.patient); '' when none. }
    property Field: UTF8String read FField;
    { PIN tries left after a wrong PIN; -1 when not known. }
    property PinTriesLeft: Integer read FPinTriesLeft;
  end;

  TDspStatus = record
    Sandbox: Boolean;
    ReaderPresent: Boolean;
    CardPresent: Boolean;
    Pinpad: Boolean;
    Blocked: Boolean;
    CardSwapped: Boolean;
    PinTriesLeft: Integer;              // -1 when unknown
    Session: dsp_session_state;
    OutboxQueued: UInt32;
    OutboxWaiting: UInt32;
    OutboxFailed: UInt32;
    OutboxDone: UInt32;
  end;

  TDspPushMetadata = record
    Patient: UTF8String;
    Title: UTF8String;
    Mode: dsp_mode;
    PatientInformed: Boolean;
    MimeType: UTF8String;               // '' = recognised from the content
    class function Make(const APatient, ATitle: UTF8String; AMode: dsp_mode;
      APatientInformed: Boolean): TDspPushMetadata; static;
  end;

  TDspPushed = record
    JobId: UTF8String;
    UniqueId: UTF8String;
  end;

  TDspDocument = record
    UniqueId: UTF8String;
    Title: UTF8String;
    Mode: dsp_mode;
    MimeType: UTF8String;
    Size: UInt64;
    Author: UTF8String;                 // eHealth id
    CreationTime: UTF8String;           // RFC 3339
    Deprecated: Boolean;
  end;
  TDspDocuments = array of TDspDocument;

  TDspJobInfo = record
    State: dsp_job_state;
    Attempts: UInt32;
    ErrorCode: UInt32;                  // a failed job's DSP_E_ code, else 0
    DocumentSize: UInt64;
    Sent: UInt64;
  end;

  TDspProfessional = record
    EHealthId: UTF8String;
    Name: UTF8String;
    Profession: UTF8String;             // '' when the directory does not say
    Specialty: UTF8String;              // '' when the directory does not say
  end;
  TDspProfessionals = array of TDspProfessional;

  { An event handler: EventJson is one event (docs/ipc.md "Events"). It runs
    on the library's event thread, not the main thread: a VCL/LCL program
    hands the event over with TThread.Queue. Free Pascal on Unix needs the
    cthreads unit first in the program's uses clause. }
  TDspEventHandler = procedure(const EventJson: UTF8String) of object;

  { One connection to dspconnectd; Free closes it. One thread at a time. }
  TDspClient = class
  private
    FHandle: Pdsp_client;
    FOnEvent: TDspEventHandler;
    function PushDone(Error: Pdsp_error; Job, Unique: PAnsiChar): TDspPushed;
  public
    { Socket '' = the default endpoint ($DSPCONNECT_SOCKET, else
      $XDG_RUNTIME_DIR/dspconnect/dspconnectd.sock). }
    constructor Create(const Socket: UTF8String; TimeoutMs: UInt32 = 30000);
    destructor Destroy; override;
    function Status: TDspStatus;
    procedure Unlock(const Pin: UTF8String);
    { PIN entry on the reader's pinpad; the outcome comes as an event. }
    procedure UnlockWithPinpad;
    procedure Lock;
    function PushFile(const Path: UTF8String; const Metadata: TDspPushMetadata): TDspPushed;
    function PushBuffer(const Data; Length: NativeUInt;
      const Metadata: TDspPushMetadata): TDspPushed;
    function PushBytes(const Data: TBytes; const Metadata: TDspPushMetadata): TDspPushed;
    function JobWait(const JobId: UTF8String; TimeoutMs: UInt32 = 60000): dsp_job_state;
    procedure SetMode(const Patient, UniqueId: UTF8String; Mode: dsp_mode);
    function List(const Patient: UTF8String): TDspDocuments;
    procedure GetToPath(const Patient, UniqueId, Path: UTF8String);
    { A one-time URL (a bearer secret: do not log it). }
    function OpenDsp(const Patient: UTF8String; LaunchBrowser: Boolean = True): UTF8String;
    procedure PatientAccess(const Patient, PresenceCode: UTF8String);
    procedure ReportAnomaly(const Patient, UniqueId, Description: UTF8String);
    procedure Subscribe;
    { False when no event came within TimeoutMs; else the event as JSON. }
    function NextEvent(TimeoutMs: UInt32; out EventJson: UTF8String): Boolean;
    { Events by callback on the library's thread (see TDspEventHandler);
      nil unregisters (waiting for a running handler to return). An
      exception a handler raises is swallowed: it must not reach C. }
    procedure SetEventHandler(Handler: TDspEventHandler);
    { A job's state now, without waiting. }
    function JobStatus(const JobId: UTF8String): TDspJobInfo;
    { Replacement (RPLC) of the document Replaces (a uniqueId). }
    function ReplaceFile(const Replaces, Path: UTF8String;
      const Metadata: TDspPushMetadata): TDspPushed;
    function ReplaceBuffer(const Replaces: UTF8String; const Data; Length: NativeUInt;
      const Metadata: TDspPushMetadata): TDspPushed;
    { A password session (account and directory only); its state. }
    function PasswordLogin(const Matricule, Password: UTF8String): dsp_session_state;
    { Activation, first step: the address the code was sent to (masked). }
    function AccountActivate(const ActivationCode, Matricule, Email: UTF8String;
      out CodeExpiresAt: UTF8String): UTF8String;
    { Activation, second step: the professional's eHealth id. }
    function AccountActivateConfirm(const ActivationCode, Matricule, EmailCode,
      NewPassword: UTF8String): UTF8String;
    procedure ChangePassword(const OldPassword, NewPassword: UTF8String);
    { By eHealth id or part of a name ('' for the one not used). }
    function HpdLookup(const EHealthId, NamePart: UTF8String): TDspProfessionals;
    { A small document's bytes (at most MaxSize, else DSP_E_FILE_TOO_LARGE). }
    function GetToBuffer(const Patient, UniqueId: UTF8String; MaxSize: UInt64;
      out MimeType: UTF8String): TBytes;
    property Handle: Pdsp_client read FHandle;
  end;

{ The library's version. }
function DspVersion: UTF8String;
{ Raises EDspError (freeing Error) when Error is not nil. }
procedure DspCheck(Error: Pdsp_error);
{ A C string copied (nil gives ''); the library still owns it. }
function DspText(P: PAnsiChar): UTF8String;
{ A string the library returned: copied, then freed with dsp_string_free. }
function DspTakeString(P: PAnsiChar): UTF8String;
function DspModeName(Mode: dsp_mode): UTF8String;
function DspJobStateName(State: dsp_job_state): UTF8String;
function DspSessionStateName(State: dsp_session_state): UTF8String;

implementation

function DspText(P: PAnsiChar): UTF8String;
var
  Len: NativeUInt;
begin
  Result := '';
  if P = nil then
    Exit;
  Len := 0;
  while P[Len] <> #0 do
    Inc(Len);
  SetLength(Result, Len);
  if Len > 0 then
    Move(P^, Result[1], Len);
end;

function DspTakeString(P: PAnsiChar): UTF8String;
begin
  try
    Result := DspText(P);
  finally
    dsp_string_free(P);
  end;
end;

{ A UTF-8 argument: nil for '' when the C side takes NULL as "absent". }
function OptionalArg(const S: UTF8String): PAnsiChar;
begin
  if S = '' then
    Result := nil
  else
    Result := PAnsiChar(S);
end;

procedure DspCheck(Error: Pdsp_error);
var
  Code: UInt32;
  Message, Hint, Field: UTF8String;
  Tries: Integer;
begin
  if Error = nil then
    Exit;
  try
    Code := dsp_error_code(Error);
    Message := DspText(dsp_error_message(Error));
    Hint := DspText(dsp_error_hint(Error));
    Field := DspText(dsp_error_field(Error));
    Tries := dsp_error_pin_tries_left(Error);
  finally
    dsp_error_free(Error);
  end;
  raise EDspError.CreateDsp(Code, Message, Hint, Field, Tries);
end;

function DspVersion: UTF8String;
begin
  Result := DspText(dsp_version);
end;

function DspModeName(Mode: dsp_mode): UTF8String;
begin
  case Mode of
    DSP_MODE_NORMAL: Result := 'Normal';
    DSP_MODE_RESTREINT: Result := 'Restreint';
    DSP_MODE_PRIVE: Result := 'Prive';
    DSP_MODE_VISITE_ANNONCE: Result := 'VisiteAnnonce';
  else
    Result := UTF8String(Format('mode %u', [Mode]));
  end;
end;

function DspJobStateName(State: dsp_job_state): UTF8String;
begin
  case State of
    DSP_JOB_QUEUED: Result := 'Queued';
    DSP_JOB_UPLOADING: Result := 'Uploading';
    DSP_JOB_WAITING_FOR_SESSION: Result := 'WaitingForSession';
    DSP_JOB_RETRY_WAITING: Result := 'RetryWaiting';
    DSP_JOB_DONE: Result := 'Done';
    DSP_JOB_FAILED: Result := 'Failed';
    DSP_JOB_CONFLICT: Result := 'Conflict';
  else
    Result := UTF8String(Format('job state %u', [State]));
  end;
end;

function DspSessionStateName(State: dsp_session_state): UTF8String;
begin
  case State of
    DSP_SESSION_NO_CARD: Result := 'NoCard';
    DSP_SESSION_CARD_PRESENT: Result := 'CardPresent';
    DSP_SESSION_PINPAD_PENDING: Result := 'PinpadPending';
    DSP_SESSION_UNLOCKED: Result := 'Unlocked';
    DSP_SESSION_AUTHENTICATED: Result := 'Authenticated';
    DSP_SESSION_EXPIRING: Result := 'Expiring';
    DSP_SESSION_LOCKED: Result := 'Locked';
    DSP_SESSION_EXPIRED: Result := 'Expired';
    DSP_SESSION_BLOCKED: Result := 'Blocked';
    DSP_SESSION_PASSWORD: Result := 'Password';
  else
    Result := UTF8String(Format('session state %u', [State]));
  end;
end;

{ EDspError }

constructor EDspError.CreateDsp(ACode: UInt32; const AMessage, AHint, AField: UTF8String;
  APinTriesLeft: Integer);
begin
  inherited Create(string(AMessage));
  FCode := ACode;
  FHint := AHint;
  FField := AField;
  FPinTriesLeft := APinTriesLeft;
end;

{ TDspPushMetadata }

class function TDspPushMetadata.Make(const APatient, ATitle: UTF8String; AMode: dsp_mode;
  APatientInformed: Boolean): TDspPushMetadata;
begin
  Result.Patient := APatient;
  Result.Title := ATitle;
  Result.Mode := AMode;
  Result.PatientInformed := APatientInformed;
  Result.MimeType := '';
end;

function CMetadata(const M: TDspPushMetadata): dsp_push_metadata;
begin
  { The pointers borrow M's strings: valid while M is. }
  Result.patient := PAnsiChar(M.Patient);
  Result.title := PAnsiChar(M.Title);
  Result.mode := M.Mode;
  Result.patient_informed := M.PatientInformed;
  Result.mime_type := OptionalArg(M.MimeType);
end;

{ TDspClient }

constructor TDspClient.Create(const Socket: UTF8String; TimeoutMs: UInt32);
begin
  inherited Create;
  FHandle := nil;
  DspCheck(dsp_connect(OptionalArg(Socket), TimeoutMs, @FHandle));
end;

destructor TDspClient.Destroy;
begin
  dsp_client_free(FHandle);   // nil accepted (a failed Create); joins the event thread
  FHandle := nil;
  inherited Destroy;
end;

function TDspClient.Status: TDspStatus;
var
  S: dsp_status;
begin
  S := Default(dsp_status);
  DspCheck(dsp_status_get(FHandle, @S));
  Result.Sandbox := S.sandbox;
  Result.ReaderPresent := S.reader_present;
  Result.CardPresent := S.card_present;
  Result.Pinpad := S.pinpad;
  Result.Blocked := S.blocked;
  Result.CardSwapped := S.card_swapped;
  Result.PinTriesLeft := S.pin_tries_left;
  Result.Session := S.session;
  Result.OutboxQueued := S.outbox_queued;
  Result.OutboxWaiting := S.outbox_waiting;
  Result.OutboxFailed := S.outbox_failed;
  Result.OutboxDone := S.outbox_done;
end;

procedure TDspClient.Unlock(const Pin: UTF8String);
begin
  DspCheck(dsp_unlock(FHandle, PAnsiChar(Pin)));
end;

procedure TDspClient.UnlockWithPinpad;
begin
  DspCheck(dsp_unlock(FHandle, nil));
end;

procedure TDspClient.Lock;
begin
  DspCheck(dsp_lock(FHandle));
end;

function TDspClient.PushDone(Error: Pdsp_error; Job, Unique: PAnsiChar): TDspPushed;
begin
  try
    Result.JobId := DspTakeString(Job);
  finally
    Result.UniqueId := DspTakeString(Unique);
  end;
  DspCheck(Error);
end;

function TDspClient.PushFile(const Path: UTF8String; const Metadata: TDspPushMetadata): TDspPushed;
var
  M: dsp_push_metadata;
  Job, Unique: PAnsiChar;
  Error: Pdsp_error;
begin
  M := CMetadata(Metadata);
  Job := nil;
  Unique := nil;
  Error := dsp_push_file(FHandle, PAnsiChar(Path), @M, @Job, @Unique);
  Result := PushDone(Error, Job, Unique);
end;

function TDspClient.PushBuffer(const Data; Length: NativeUInt;
  const Metadata: TDspPushMetadata): TDspPushed;
var
  M: dsp_push_metadata;
  Job, Unique: PAnsiChar;
  Error: Pdsp_error;
begin
  M := CMetadata(Metadata);
  Job := nil;
  Unique := nil;
  Error := dsp_push_buffer(FHandle, PByte(@Data), Length, @M, @Job, @Unique);
  Result := PushDone(Error, Job, Unique);
end;

function TDspClient.PushBytes(const Data: TBytes; const Metadata: TDspPushMetadata): TDspPushed;
var
  Empty: Byte;
begin
  if System.Length(Data) = 0 then
  begin
    Empty := 0;
    Result := PushBuffer(Empty, 0, Metadata);
  end
  else
    Result := PushBuffer(Data[0], System.Length(Data), Metadata);
end;

function TDspClient.JobWait(const JobId: UTF8String; TimeoutMs: UInt32): dsp_job_state;
var
  State: dsp_job_state;
begin
  State := DSP_JOB_QUEUED;
  DspCheck(dsp_job_wait(FHandle, PAnsiChar(JobId), TimeoutMs, @State));
  Result := State;
end;

procedure TDspClient.SetMode(const Patient, UniqueId: UTF8String; Mode: dsp_mode);
begin
  DspCheck(dsp_set_mode(FHandle, PAnsiChar(Patient), PAnsiChar(UniqueId), Mode));
end;

function TDspClient.List(const Patient: UTF8String): TDspDocuments;
var
  L: Pdsp_document_list;
  D: Pdsp_document;
  I: NativeUInt;
begin
  Result := nil;
  L := nil;
  DspCheck(dsp_list(FHandle, PAnsiChar(Patient), @L));
  try
    SetLength(Result, L^.count);
    D := L^.documents;
    I := 0;
    while I < L^.count do
    begin
      Result[I].UniqueId := DspText(D^.unique_id);
      Result[I].Title := DspText(D^.title);
      Result[I].Mode := D^.mode;
      Result[I].MimeType := DspText(D^.mime_type);
      Result[I].Size := D^.size;
      Result[I].Author := DspText(D^.author);
      Result[I].CreationTime := DspText(D^.creation_time);
      Result[I].Deprecated := D^.deprecated;
      Inc(D);
      Inc(I);
    end;
  finally
    dsp_document_list_free(L);
  end;
end;

procedure TDspClient.GetToPath(const Patient, UniqueId, Path: UTF8String);
begin
  DspCheck(dsp_get_to_path(FHandle, PAnsiChar(Patient), PAnsiChar(UniqueId), PAnsiChar(Path)));
end;

function TDspClient.OpenDsp(const Patient: UTF8String; LaunchBrowser: Boolean): UTF8String;
var
  Url: PAnsiChar;
  Error: Pdsp_error;
begin
  Url := nil;
  Error := dsp_open_dsp(FHandle, PAnsiChar(Patient), LaunchBrowser, @Url);
  Result := DspTakeString(Url);
  DspCheck(Error);
end;

procedure TDspClient.PatientAccess(const Patient, PresenceCode: UTF8String);
begin
  DspCheck(dsp_patient_access(FHandle, PAnsiChar(Patient), PAnsiChar(PresenceCode)));
end;

procedure TDspClient.ReportAnomaly(const Patient, UniqueId, Description: UTF8String);
begin
  DspCheck(dsp_report_anomaly(FHandle, PAnsiChar(Patient), PAnsiChar(UniqueId),
    PAnsiChar(Description)));
end;

procedure TDspClient.Subscribe;
begin
  DspCheck(dsp_subscribe(FHandle));
end;

function TDspClient.NextEvent(TimeoutMs: UInt32; out EventJson: UTF8String): Boolean;
var
  Json: PAnsiChar;
  Error: Pdsp_error;
begin
  Json := nil;
  Error := dsp_next_event(FHandle, TimeoutMs, @Json);
  Result := Json <> nil;
  EventJson := DspTakeString(Json);
  DspCheck(Error);
end;

{ Runs on the library's event thread. }
procedure EventTrampoline(event_json: PAnsiChar; user_data: Pointer); cdecl;
var
  Client: TDspClient;
begin
  Client := TDspClient(user_data);
  try
    if Assigned(Client.FOnEvent) then
      Client.FOnEvent(DspText(event_json));
  except
    { An exception must not unwind into the library. }
  end;
end;

procedure TDspClient.SetEventHandler(Handler: TDspEventHandler);
begin
  if not Assigned(Handler) then
  begin
    DspCheck(dsp_set_event_callback(FHandle, nil, nil));
    FOnEvent := nil;
    Exit;
  end;
  { Unregister first, so that the handler is not replaced under a running call. }
  DspCheck(dsp_set_event_callback(FHandle, nil, nil));
  FOnEvent := Handler;
  DspCheck(dsp_set_event_callback(FHandle, EventTrampoline, Pointer(Self)));
end;

function TDspClient.JobStatus(const JobId: UTF8String): TDspJobInfo;
var
  Info: dsp_job_info;
begin
  Info := Default(dsp_job_info);
  Info.size := SizeOf(dsp_job_info);
  DspCheck(dsp_job_status(FHandle, PAnsiChar(JobId), @Info));
  Result.State := Info.state;
  Result.Attempts := Info.attempts;
  Result.ErrorCode := Info.error_code;
  Result.DocumentSize := Info.document_size;
  Result.Sent := Info.sent;
end;

function TDspClient.ReplaceFile(const Replaces, Path: UTF8String;
  const Metadata: TDspPushMetadata): TDspPushed;
var
  M: dsp_push_metadata;
  Job, Unique: PAnsiChar;
  Error: Pdsp_error;
begin
  M := CMetadata(Metadata);
  Job := nil;
  Unique := nil;
  Error := dsp_replace_file(FHandle, PAnsiChar(Replaces), PAnsiChar(Path), @M, @Job, @Unique);
  Result := PushDone(Error, Job, Unique);
end;

function TDspClient.ReplaceBuffer(const Replaces: UTF8String; const Data; Length: NativeUInt;
  const Metadata: TDspPushMetadata): TDspPushed;
var
  M: dsp_push_metadata;
  Job, Unique: PAnsiChar;
  Error: Pdsp_error;
begin
  M := CMetadata(Metadata);
  Job := nil;
  Unique := nil;
  Error := dsp_replace_buffer(FHandle, PAnsiChar(Replaces), PByte(@Data), Length, @M, @Job,
    @Unique);
  Result := PushDone(Error, Job, Unique);
end;

function TDspClient.PasswordLogin(const Matricule, Password: UTF8String): dsp_session_state;
var
  State: dsp_session_state;
begin
  State := DSP_SESSION_NO_CARD;
  DspCheck(dsp_password_login(FHandle, PAnsiChar(Matricule), PAnsiChar(Password), @State));
  Result := State;
end;

function TDspClient.AccountActivate(const ActivationCode, Matricule, Email: UTF8String;
  out CodeExpiresAt: UTF8String): UTF8String;
var
  SentTo, Expires: PAnsiChar;
  Error: Pdsp_error;
begin
  SentTo := nil;
  Expires := nil;
  Error := dsp_account_activate(FHandle, PAnsiChar(ActivationCode), PAnsiChar(Matricule),
    PAnsiChar(Email), @SentTo, @Expires);
  try
    Result := DspTakeString(SentTo);
  finally
    CodeExpiresAt := DspTakeString(Expires);
  end;
  DspCheck(Error);
end;

function TDspClient.AccountActivateConfirm(const ActivationCode, Matricule, EmailCode,
  NewPassword: UTF8String): UTF8String;
var
  Id: PAnsiChar;
  Error: Pdsp_error;
begin
  Id := nil;
  Error := dsp_account_activate_confirm(FHandle, PAnsiChar(ActivationCode),
    PAnsiChar(Matricule), PAnsiChar(EmailCode), PAnsiChar(NewPassword), @Id);
  Result := DspTakeString(Id);
  DspCheck(Error);
end;

procedure TDspClient.ChangePassword(const OldPassword, NewPassword: UTF8String);
begin
  DspCheck(dsp_change_password(FHandle, PAnsiChar(OldPassword), PAnsiChar(NewPassword)));
end;

function TDspClient.HpdLookup(const EHealthId, NamePart: UTF8String): TDspProfessionals;
var
  L: Pdsp_professional_list;
  P: Pdsp_professional;
  I: NativeUInt;
begin
  Result := nil;
  L := nil;
  DspCheck(dsp_hpd_lookup(FHandle, OptionalArg(EHealthId), OptionalArg(NamePart), @L));
  try
    SetLength(Result, L^.count);
    P := L^.professionals;
    I := 0;
    while I < L^.count do
    begin
      Result[I].EHealthId := DspText(P^.ehealth_id);
      Result[I].Name := DspText(P^.name);
      Result[I].Profession := DspText(P^.profession);
      Result[I].Specialty := DspText(P^.specialty);
      Inc(P);
      Inc(I);
    end;
  finally
    dsp_professional_list_free(L);
  end;
end;

function TDspClient.GetToBuffer(const Patient, UniqueId: UTF8String; MaxSize: UInt64;
  out MimeType: UTF8String): TBytes;
var
  Data: PByte;
  Len: dsp_uintptr;
  Mime: PAnsiChar;
  Error: Pdsp_error;
begin
  Result := nil;
  Data := nil;
  Len := 0;
  Mime := nil;
  Error := dsp_get_to_buffer(FHandle, PAnsiChar(Patient), PAnsiChar(UniqueId), MaxSize, @Data,
    @Len, @Mime);
  MimeType := DspTakeString(Mime);
  DspCheck(Error);
  try
    SetLength(Result, Len);
    if Len > 0 then
      Move(Data^, Result[0], Len);
  finally
    dsp_buffer_free(Data);
  end;
end;

end.
