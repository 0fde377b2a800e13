// dspconnect for .NET: an idiomatic layer over libdspconnect's C ABI, whose
// declarations (NativeMethods.g.cs) csbindgen generates from src/ffi/*.rs.
//
//     using (var dsp = new DspClient())            // the default socket
//     {
//         dsp.Unlock("1234");
//         PushResult pushed = dsp.PushFile("report.pdf", "1945093006704", "Lettre",
//                                          DspMode.Restreint, patientInformed: true);
//         JobState state = dsp.JobWait(pushed.JobId, 60000);  // JobState.Done
//         foreach (DspDocument d in dsp.List("1945093006704"))
//             Console.WriteLine(d.UniqueId + " " + d.Title);
//     }
//
// Written for C# 7 and .NET Framework 4.x as much as for .NET (netstandard2.0;
// mono's mcs compiles it, with -unsafe):
// - strings the library returns are read through their pointer (found NUL,
//   copied bytes, Encoding.UTF8), then freed with dsp_string_free: never
//   marshalled as `string`, which would free Rust memory with the wrong
//   allocator;
// - strings passed in are NUL-terminated UTF-8 byte arrays;
// - the structs that hold `bool` go through Marshal.StructureToPtr /
//   PtrToStructure on unmanaged memory, so their C layout is the marshalled
//   one on every runtime (the managed layout of a non-blittable struct is
//   not guaranteed to follow LayoutKind.Sequential on .NET Framework);
// - every dsp_error is turned into a DspException, then freed.
using System;
using System.Collections.Generic;
using System.IO;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading;

namespace DspConnect
{
    /// <summary>The library's fixed error codes (docs/ipc.md, "Errors"): a
    /// number keeps its meaning forever.</summary>
    public enum DspErrorCode : uint
    {
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
    }

    /// <summary>The charter's confidentiality modes.</summary>
    public enum DspMode : uint
    {
        Normal = dsp_mode.DSP_MODE_NORMAL,
        Restreint = dsp_mode.DSP_MODE_RESTREINT,
        Prive = dsp_mode.DSP_MODE_PRIVE,
        VisiteAnnonce = dsp_mode.DSP_MODE_VISITE_ANNONCE,
    }

    /// <summary>Where the session is.</summary>
    public enum SessionState : uint
    {
        NoCard = dsp_session_state.DSP_SESSION_NO_CARD,
        CardPresent = dsp_session_state.DSP_SESSION_CARD_PRESENT,
        PinpadPending = dsp_session_state.DSP_SESSION_PINPAD_PENDING,
        Unlocked = dsp_session_state.DSP_SESSION_UNLOCKED,
        Authenticated = dsp_session_state.DSP_SESSION_AUTHENTICATED,
        Expiring = dsp_session_state.DSP_SESSION_EXPIRING,
        Locked = dsp_session_state.DSP_SESSION_LOCKED,
        Expired = dsp_session_state.DSP_SESSION_EXPIRED,
        Blocked = dsp_session_state.DSP_SESSION_BLOCKED,
        Password = dsp_session_state.DSP_SESSION_PASSWORD,
    }

    /// <summary>Where an outbox job is.</summary>
    public enum JobState : uint
    {
        Queued = dsp_job_state.DSP_JOB_QUEUED,
        Uploading = dsp_job_state.DSP_JOB_UPLOADING,
        WaitingForSession = dsp_job_state.DSP_JOB_WAITING_FOR_SESSION,
        RetryWaiting = dsp_job_state.DSP_JOB_RETRY_WAITING,
        Done = dsp_job_state.DSP_JOB_DONE,
        Failed = dsp_job_state.DSP_JOB_FAILED,
        Conflict = dsp_job_state.DSP_JOB_CONFLICT,
    }

    /// <summary>A failed libdspconnect call: its fixed code, message, and
    /// when they apply the hint for the user, the request field at fault and
    /// the PIN tries left.</summary>
    public sealed class DspException : Exception
    {
        public DspErrorCode Code { get; private set; }
        public string Hint { get; private set; }
        public string Field { get; private set; }
        public int? PinTriesLeft { get; private set; }

        public DspException(DspErrorCode code, string message, string hint, string field, int? pinTriesLeft)
            : base(Describe(code, message, hint))
        {
            Code = code;
            Hint = hint;
            Field = field;
            PinTriesLeft = pinTriesLeft;
        }

        static string Describe(DspErrorCode code, string message, string hint)
        {
            string text = "[" + (uint)code + " " + code + "] " + message;
            return hint == null ? text : text + " (hint: " + hint + ")";
        }
    }

    /// <summary>The daemon, card and session at a glance.</summary>
    public sealed class DspStatus
    {
        public bool Sandbox { get; internal set; }
        public bool ReaderPresent { get; internal set; }
        public bool CardPresent { get; internal set; }
        public bool Pinpad { get; internal set; }
        public bool Blocked { get; internal set; }
        public bool CardSwapped { get; internal set; }
        public int? PinTriesLeft { get; internal set; }
        public SessionState Session { get; internal set; }
        public uint OutboxQueued { get; internal set; }
        public uint OutboxWaiting { get; internal set; }
        public uint OutboxFailed { get; internal set; }
        public uint OutboxDone { get; internal set; }
    }

    /// <summary>One document as listed.</summary>
    public sealed class DspDocument
    {
        public string UniqueId { get; internal set; }
        public string Title { get; internal set; }
        public DspMode Mode { get; internal set; }
        public string MimeType { get; internal set; }
        public ulong Size { get; internal set; }
        /// <summary>The author's eHealth id.</summary>
        public string Author { get; internal set; }
        /// <summary>RFC 3339.</summary>
        public string CreationTime { get; internal set; }
        /// <summary>Replaced by a newer document.</summary>
        public bool Deprecated { get; internal set; }
    }

    /// <summary>A queued push: the outbox job and the document's unique id.</summary>
    public sealed class PushResult
    {
        public string JobId { get; internal set; }
        public string UniqueId { get; internal set; }
    }

    /// <summary>An event from the daemon: its JSON (docs/ipc.md, "Events")
    /// and its kind ("job", "session", "card", "notice").</summary>
    public sealed class DspEventArgs : EventArgs
    {
        public string Json { get; private set; }
        public string Kind { get; private set; }

        public DspEventArgs(string json)
        {
            Json = json;
            Kind = KindOf(json);
        }

        // The daemon writes `kind` first: {"kind":"job",…}.
        static string KindOf(string json)
        {
            const string key = "\"kind\":\"";
            int start = json.IndexOf(key, StringComparison.Ordinal);
            if (start < 0) return null;
            start += key.Length;
            int end = json.IndexOf('"', start);
            return end < 0 ? null : json.Substring(start, end - start);
        }
    }

    /// <summary>Why event delivery stopped (the connection was lost, …).</summary>
    public sealed class DspEventErrorArgs : EventArgs
    {
        public DspException Error { get; private set; }

        public DspEventErrorArgs(DspException error)
        {
            Error = error;
        }
    }

    /// <summary>A dsp_client*; released with dsp_client_free.</summary>
    internal sealed class DspClientHandle : SafeHandle
    {
        public DspClientHandle() : base(IntPtr.Zero, true)
        {
        }

        public override bool IsInvalid
        {
            get { return handle == IntPtr.Zero; }
        }

        internal void Adopt(IntPtr client)
        {
            SetHandle(client);
        }

        protected override unsafe bool ReleaseHandle()
        {
            NativeMethods.dsp_client_free((dsp_client*)handle);
            return true;
        }
    }

    /// <summary>Keeps a handle alive (and not released) during a native call.</summary>
    internal unsafe struct Lease : IDisposable
    {
        readonly SafeHandle owner;
        readonly bool added;

        internal Lease(SafeHandle handle)
        {
            owner = handle;
            added = false;
            handle.DangerousAddRef(ref added);
        }

        internal dsp_client* Client
        {
            get { return (dsp_client*)owner.DangerousGetHandle(); }
        }

        public void Dispose()
        {
            if (added) owner.DangerousRelease();
        }
    }

    /// <summary>UTF-8 strings across the boundary, and errors.</summary>
    internal static unsafe class Native
    {
        /// <summary>A NUL-terminated UTF-8 copy of <paramref name="text"/>, or
        /// null for null.</summary>
        internal static byte[] Utf8(string text, string name)
        {
            if (text == null) return null;
            if (text.IndexOf('\0') >= 0)
                throw new ArgumentException(name + " contains a NUL character", name);
            byte[] bytes = new byte[Encoding.UTF8.GetByteCount(text) + 1];
            Encoding.UTF8.GetBytes(text, 0, text.Length, bytes, 0);
            return bytes;
        }

        /// <summary>A library string, decoded (null for NULL); not freed.</summary>
        internal static string Read(byte* p)
        {
            IntPtr ptr = new IntPtr(p);
            if (ptr == IntPtr.Zero) return null;
            int length = 0;
            while (Marshal.ReadByte(ptr, length) != 0) length++;
            byte[] bytes = new byte[length];
            Marshal.Copy(ptr, bytes, 0, length);
            return Encoding.UTF8.GetString(bytes);
        }

        /// <summary>A string the library handed over: decoded, then freed
        /// (and wiped) by dsp_string_free.</summary>
        internal static string Take(byte* p)
        {
            try
            {
                return Read(p);
            }
            finally
            {
                NativeMethods.dsp_string_free(p);
            }
        }

        internal static DspException Exception(dsp_error* error)
        {
            try
            {
                int tries = NativeMethods.dsp_error_pin_tries_left(error);
                return new DspException(
                    (DspErrorCode)NativeMethods.dsp_error_code(error),
                    Read(NativeMethods.dsp_error_message(error)),
                    Read(NativeMethods.dsp_error_hint(error)),
                    Read(NativeMethods.dsp_error_field(error)),
                    tries < 0 ? (int?)null : tries);
            }
            finally
            {
                NativeMethods.dsp_error_free(error);
            }
        }

        /// <summary>Throws the error, if any, after freeing it.</summary>
        internal static void Check(dsp_error* error)
        {
            if (error != null) throw Exception(error);
        }

        internal static void Wipe(byte[] secret)
        {
            if (secret != null) Array.Clear(secret, 0, secret.Length);
        }
    }

    /// <summary>One connection to dspconnectd. Use it from one thread at a
    /// time (the library serializes calls on it anyway); events come on a
    /// connection of their own.</summary>
    public sealed unsafe class DspClient : IDisposable
    {
        readonly DspClientHandle handle;
        readonly string socket;
        readonly uint timeoutMs;
        readonly object eventLock = new object();
        EventHandler<DspEventArgs> eventHandlers;
        EventPump pump;

        /// <summary>Connects to the daemon at <paramref name="socket"/> (a
        /// path; null for the default: $DSPCONNECT_SOCKET, else
        /// $XDG_RUNTIME_DIR/dspconnect/dspconnectd.sock). Each call waits at
        /// most <paramref name="timeoutMs"/> for its answer.</summary>
        public DspClient(string socket = null, uint timeoutMs = 30000)
        {
            this.socket = socket;
            this.timeoutMs = timeoutMs;
            handle = Connect(socket, timeoutMs);
        }

        static DspClientHandle Connect(string socket, uint timeoutMs)
        {
            byte[] path = Native.Utf8(socket, "socket");
            var result = new DspClientHandle();
            dsp_client* client = null;
            fixed (byte* p = path)
            {
                Native.Check(NativeMethods.dsp_connect(p, timeoutMs, &client));
            }
            result.Adopt(new IntPtr(client));
            return result;
        }

        /// <summary>The library's version (the crate version).</summary>
        public static string Version
        {
            get { return Native.Read(NativeMethods.dsp_version()); }
        }

        public DspStatus Status()
        {
            int size = Marshal.SizeOf(typeof(dsp_status));
            IntPtr buffer = Marshal.AllocHGlobal(size);
            try
            {
                using (var lease = new Lease(handle))
                {
                    Native.Check(NativeMethods.dsp_status_get(lease.Client, (dsp_status*)buffer));
                }
                var s = (dsp_status)Marshal.PtrToStructure(buffer, typeof(dsp_status));
                return new DspStatus
                {
                    Sandbox = s.sandbox,
                    ReaderPresent = s.reader_present,
                    CardPresent = s.card_present,
                    Pinpad = s.pinpad,
                    Blocked = s.blocked,
                    CardSwapped = s.card_swapped,
                    PinTriesLeft = s.pin_tries_left < 0 ? (int?)null : s.pin_tries_left,
                    Session = (SessionState)s.session,
                    OutboxQueued = s.outbox_queued,
                    OutboxWaiting = s.outbox_waiting,
                    OutboxFailed = s.outbox_failed,
                    OutboxDone = s.outbox_done,
                };
            }
            finally
            {
                Marshal.FreeHGlobal(buffer);
            }
        }

        /// <summary>Verifies the card's PIN and opens the platform session;
        /// null starts PIN entry on the reader's pinpad (the outcome comes as a
        /// session event). A wrong PIN throws with PinTriesLeft.</summary>
        public void Unlock(string pin)
        {
            byte[] bytes = Native.Utf8(pin, "pin");
            try
            {
                using (var lease = new Lease(handle))
                fixed (byte* p = bytes)
                {
                    Native.Check(NativeMethods.dsp_unlock(lease.Client, p));
                }
            }
            finally
            {
                Native.Wipe(bytes);
            }
        }

        public void Lock()
        {
            using (var lease = new Lease(handle))
            {
                Native.Check(NativeMethods.dsp_lock(lease.Client));
            }
        }

        /// <summary>Queues the file for the patient's DSP; answers once it is
        /// safely spooled. <paramref name="patientInformed"/> states that the
        /// patient was informed and agrees (a push without it is refused);
        /// a null <paramref name="mimeType"/> is recognised from the content.</summary>
        public PushResult PushFile(string path, string patient, string title, DspMode mode,
                                   bool patientInformed, string mimeType = null)
        {
            if (path == null) throw new ArgumentNullException("path");
            byte[] file = Native.Utf8(Path.GetFullPath(path), "path");
            return Push(patient, title, mode, patientInformed, mimeType,
                        (client, metadata, job, uniqueId) =>
                        {
                            fixed (byte* f = file)
                            {
                                return NativeMethods.dsp_push_file(client, f, metadata, job, uniqueId);
                            }
                        });
        }

        /// <summary>Queues <paramref name="data"/> as a document (sent over
        /// the socket; nothing is written to disk by the library).</summary>
        public PushResult PushBytes(byte[] data, string patient, string title, DspMode mode,
                                    bool patientInformed, string mimeType = null)
        {
            if (data == null) throw new ArgumentNullException("data");
            return Push(patient, title, mode, patientInformed, mimeType,
                        (client, metadata, job, uniqueId) =>
                        {
                            fixed (byte* d = data)
                            {
                                return NativeMethods.dsp_push_buffer(
                                    client, d, new UIntPtr((uint)data.Length), metadata, job, uniqueId);
                            }
                        });
        }

        delegate dsp_error* PushCall(dsp_client* client, dsp_push_metadata* metadata,
                                     byte** jobId, byte** uniqueId);

        PushResult Push(string patient, string title, DspMode mode, bool patientInformed,
                        string mimeType, PushCall call)
        {
            byte[] patientBytes = Native.Utf8(patient, "patient");
            byte[] titleBytes = Native.Utf8(title, "title");
            byte[] mimeBytes = Native.Utf8(mimeType, "mimeType");
            IntPtr buffer = Marshal.AllocHGlobal(Marshal.SizeOf(typeof(dsp_push_metadata)));
            try
            {
                fixed (byte* p = patientBytes)
                fixed (byte* t = titleBytes)
                fixed (byte* m = mimeBytes)
                {
                    var metadata = new dsp_push_metadata
                    {
                        patient = p,
                        title = t,
                        mode = (dsp_mode)mode,
                        patient_informed = patientInformed,
                        mime_type = m,
                    };
                    Marshal.StructureToPtr(metadata, buffer, false);
                    byte* job = null;
                    byte* uniqueId = null;
                    using (var lease = new Lease(handle))
                    {
                        Native.Check(call(lease.Client, (dsp_push_metadata*)buffer, &job, &uniqueId));
                    }
                    string jobText = Native.Take(job);
                    return new PushResult { JobId = jobText, UniqueId = Native.Take(uniqueId) };
                }
            }
            finally
            {
                Marshal.FreeHGlobal(buffer);
            }
        }

        /// <summary>Waits up to <paramref name="timeoutMs"/> for the job to
        /// end; its state either way.</summary>
        public JobState JobWait(string jobId, uint timeoutMs)
        {
            byte[] job = Native.Utf8(jobId, "jobId");
            dsp_job_state state;
            using (var lease = new Lease(handle))
            fixed (byte* j = job)
            {
                Native.Check(NativeMethods.dsp_job_wait(lease.Client, j, timeoutMs, &state));
            }
            return (JobState)state;
        }

        /// <summary>Changes a document's confidentiality mode, as the charter
        /// allows.</summary>
        public void SetMode(string patient, string uniqueId, DspMode mode)
        {
            byte[] p = Native.Utf8(patient, "patient");
            byte[] u = Native.Utf8(uniqueId, "uniqueId");
            using (var lease = new Lease(handle))
            fixed (byte* pp = p)
            fixed (byte* up = u)
            {
                Native.Check(NativeMethods.dsp_set_mode(lease.Client, pp, up, (uint)mode));
            }
        }

        /// <summary>The patient's documents this professional may see.</summary>
        public IList<DspDocument> List(string patient)
        {
            byte[] p = Native.Utf8(patient, "patient");
            dsp_document_list* list = null;
            using (var lease = new Lease(handle))
            fixed (byte* pp = p)
            {
                Native.Check(NativeMethods.dsp_list(lease.Client, pp, &list));
            }
            try
            {
                var documents = new List<DspDocument>();
                ulong count = list->count.ToUInt64();
                int stride = Marshal.SizeOf(typeof(dsp_document));
                IntPtr first = new IntPtr(list->documents);
                for (ulong i = 0; i < count; i++)
                {
                    var d = (dsp_document)Marshal.PtrToStructure(
                        new IntPtr(first.ToInt64() + (long)i * stride), typeof(dsp_document));
                    documents.Add(new DspDocument
                    {
                        UniqueId = Native.Read(d.unique_id),
                        Title = Native.Read(d.title),
                        Mode = (DspMode)d.mode,
                        MimeType = Native.Read(d.mime_type),
                        Size = d.size,
                        Author = Native.Read(d.author),
                        CreationTime = Native.Read(d.creation_time),
                        Deprecated = d.deprecated,
                    });
                }
                return documents;
            }
            finally
            {
                NativeMethods.dsp_document_list_free(list);
            }
        }

        /// <summary>Retrieves a document into the file <paramref name="path"/>
        /// (it must not exist).</summary>
        public void GetToPath(string patient, string uniqueId, string path)
        {
            if (path == null) throw new ArgumentNullException("path");
            byte[] p = Native.Utf8(patient, "patient");
            byte[] u = Native.Utf8(uniqueId, "uniqueId");
            byte[] f = Native.Utf8(Path.GetFullPath(path), "path");
            using (var lease = new Lease(handle))
            fixed (byte* pp = p)
            fixed (byte* up = u)
            fixed (byte* fp = f)
            {
                Native.Check(NativeMethods.dsp_get_to_path(lease.Client, pp, up, fp));
            }
        }

        /// <summary>A one-time URL opening the patient's DSP (a bearer secret:
        /// do not log it); the default browser is opened when
        /// <paramref name="launchBrowser"/>.</summary>
        public string OpenDsp(string patient, bool launchBrowser)
        {
            byte[] p = Native.Utf8(patient, "patient");
            byte* url = null;
            using (var lease = new Lease(handle))
            fixed (byte* pp = p)
            {
                Native.Check(NativeMethods.dsp_open_dsp(lease.Client, pp, launchBrowser, &url));
            }
            return Native.Take(url);
        }

        /// <summary>Opens access to a patient with their presence code.</summary>
        public void PatientAccess(string patient, string presenceCode)
        {
            byte[] p = Native.Utf8(patient, "patient");
            byte[] code = Native.Utf8(presenceCode, "presenceCode");
            try
            {
                using (var lease = new Lease(handle))
                fixed (byte* pp = p)
                fixed (byte* cp = code)
                {
                    Native.Check(NativeMethods.dsp_patient_access(lease.Client, pp, cp));
                }
            }
            finally
            {
                Native.Wipe(code);
            }
        }

        /// <summary>Reports an anomaly in a document to the platform's manager.</summary>
        public void ReportAnomaly(string patient, string uniqueId, string description)
        {
            byte[] p = Native.Utf8(patient, "patient");
            byte[] u = Native.Utf8(uniqueId, "uniqueId");
            byte[] d = Native.Utf8(description, "description");
            using (var lease = new Lease(handle))
            fixed (byte* pp = p)
            fixed (byte* up = u)
            fixed (byte* dp = d)
            {
                Native.Check(NativeMethods.dsp_report_anomaly(lease.Client, pp, up, dp));
            }
        }

        /// <summary>The daemon's events (card, session, job). Adding the first
        /// handler opens a second connection, subscribes (a failure throws
        /// here) and starts a background thread polling dsp_next_event;
        /// removing the last one stops it. Handlers run on that thread.</summary>
        public event EventHandler<DspEventArgs> EventReceived
        {
            add
            {
                lock (eventLock)
                {
                    if (pump == null) pump = EventPump.Start(this, socket, timeoutMs);
                    eventHandlers += value;
                }
            }
            remove
            {
                EventPump stopped = null;
                lock (eventLock)
                {
                    eventHandlers -= value;
                    if (eventHandlers == null)
                    {
                        stopped = pump;
                        pump = null;
                    }
                }
                // Outside the lock: the thread takes it to deliver.
                if (stopped != null) stopped.Stop();
            }
        }

        /// <summary>Event delivery stopped on an error (the daemon went away).</summary>
        public event EventHandler<DspEventErrorArgs> EventsFailed;

        void Deliver(string json)
        {
            EventHandler<DspEventArgs> handlers;
            lock (eventLock) handlers = eventHandlers;
            if (handlers != null) handlers(this, new DspEventArgs(json));
        }

        void Failed(DspException error)
        {
            EventHandler<DspEventErrorArgs> handlers = EventsFailed;
            if (handlers != null) handlers(this, new DspEventErrorArgs(error));
        }

        /// <summary>Stops event delivery and closes the connections.</summary>
        public void Dispose()
        {
            EventPump stopped;
            lock (eventLock)
            {
                eventHandlers = null;
                stopped = pump;
                pump = null;
            }
            if (stopped != null) stopped.Stop();
            handle.Dispose();
        }

        /// <summary>The event connection and the thread polling it.</summary>
        sealed class EventPump
        {
            readonly DspClient owner;
            readonly DspClientHandle connection;
            readonly Thread thread;
            volatile bool stopping;

            EventPump(DspClient owner, DspClientHandle connection)
            {
                this.owner = owner;
                this.connection = connection;
                thread = new Thread(Run) { IsBackground = true, Name = "dspconnect events" };
            }

            internal static EventPump Start(DspClient owner, string socket, uint timeoutMs)
            {
                DspClientHandle connection = Connect(socket, timeoutMs);
                try
                {
                    using (var lease = new Lease(connection))
                    {
                        Native.Check(NativeMethods.dsp_subscribe(lease.Client));
                    }
                }
                catch
                {
                    connection.Dispose();
                    throw;
                }
                var pump = new EventPump(owner, connection);
                pump.thread.Start();
                return pump;
            }

            void Run()
            {
                try
                {
                    using (var lease = new Lease(connection))
                    {
                        while (!stopping)
                        {
                            byte* json = null;
                            dsp_error* error = NativeMethods.dsp_next_event(lease.Client, 250, &json);
                            if (error != null)
                            {
                                DspException failure = Native.Exception(error);
                                if (!stopping) owner.Failed(failure);
                                return;
                            }
                            string text = Native.Take(json);
                            if (text != null && !stopping) owner.Deliver(text);
                        }
                    }
                }
                finally
                {
                    connection.Dispose();
                }
            }

            /// <summary>Ends the polling (within a poll, 250 ms); from a
            /// handler, without waiting for itself.</summary>
            internal void Stop()
            {
                stopping = true;
                if (Thread.CurrentThread != thread) thread.Join();
            }
        }
    }
}
