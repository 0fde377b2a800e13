//! libdspconnect from C#: bindings/csharp (csbindgen's NativeMethods.g.cs
//! and the hand-written DspConnect.cs) compiled with mono's `mcs` into
//! DspConnect.dll, examples/csharp/Push.cs against it, run with `mono`
//! against the real daemon and the sandbox, and read back over the IPC; a
//! program over the rest of the API; event delivery ending when the daemon
//! dies; a lint over the C# sources for what .NET Framework 4.x lacks or
//! gets wrong; and the error path with no daemon.
//!
//! Without `mcs` and `mono` (Debian packages mono-mcs, mono-runtime) the
//! tests that need them say so and pass, unless `DSP_REQUIRE_TOOLS` is set.

mod daemon_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use daemon_support::*;
use dspconnect::ipc::protocol::{Empty, List, ListParams, StatusMethod};
use dspconnect::model::ConfidentialityMode;

const PATIENT: &str = "1945093006704";

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_owned()
}

/// Whether `mcs` and `mono` run; when not, the test is skipped (with a
/// message) unless `DSP_REQUIRE_TOOLS` is set, which makes it fail.
fn mono_tools(test: &str) -> bool {
    let missing: Vec<&str> = ["mcs", "mono"]
        .into_iter()
        .filter(|tool| {
            !Command::new(tool)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var_os("DSP_REQUIRE_TOOLS").is_none(),
        "{test}: {missing:?} not found and DSP_REQUIRE_TOOLS is set \
         (install the Debian packages mono-mcs and mono-runtime)"
    );
    eprintln!(
        "SKIPPED {test}: {missing:?} not found (Debian packages mono-mcs, mono-runtime); \
         set DSP_REQUIRE_TOOLS=1 to make this a failure"
    );
    false
}

fn run_checked(what: &str, command: &mut Command) -> Output {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{what} runs: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The C# sources of the binding (the generated and the hand-written file).
fn binding_sources() -> Vec<PathBuf> {
    cs_files(&workspace().join("bindings/csharp"))
}

fn cs_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "cs"))
        .collect();
    files.sort();
    files
}

/// DspConnect.dll built with mcs into `out` (C# 6, warnings as errors:
/// what an older .NET Framework toolchain accepts).
fn build_binding(out: &Path) -> PathBuf {
    let dll = out.join("DspConnect.dll");
    run_checked(
        "mcs (DspConnect.dll)",
        Command::new("mcs")
            .args([
                "-target:library",
                "-unsafe",
                "-langversion:6",
                "-warnaserror+",
            ])
            .arg(format!("-out:{}", dll.display()))
            .args(binding_sources()),
    );
    dll
}

/// A program from `sources` referencing DspConnect.dll (no -unsafe: the
/// binding's public surface is safe C#).
fn build_program(dll: &Path, sources: &[PathBuf], exe: &Path) {
    run_checked(
        "mcs (program)",
        Command::new("mcs")
            .args(["-langversion:6", "-warnaserror+"])
            .arg(format!("-r:{}", dll.display()))
            .arg(format!("-out:{}", exe.display()))
            .args(sources),
    );
}

/// `mono exe` with libdspconnect.so on the loader's path, ended after
/// three minutes (a hang, such as a deadlock stopping the event thread,
/// becomes a failure with status 124).
fn mono(exe: &Path) -> Command {
    let mut command = Command::new("timeout");
    command
        .args(["--kill-after=10", "180", "mono", "--debug"])
        .arg(exe)
        .env("LD_LIBRARY_PATH", ffi_library_dir());
    command
}

#[test]
fn the_csharp_example_pushes_a_report_and_changes_its_mode_through_the_library() {
    if !mono_tools("the_csharp_example_pushes_a_report") {
        return;
    }
    let build = tempfile::tempdir().unwrap();
    let dll = build_binding(build.path());
    let exe = build.path().join("Push.exe");
    build_program(&dll, &cs_files(&workspace().join("examples/csharp")), &exe);

    let sandbox = ExternalSandbox::start();
    let home = DaemonHome::new();
    let (card, pin) = sandbox.export_card("SBX1001", sandbox.dir.path());
    home.write_config(sandbox.profile(), |_| {});
    let daemon = Daemon::start(&home, &["--software-card", card.to_str().unwrap()]);
    let report = home.path("home").join("lettre de sortie é.pdf");
    std::fs::write(&report, pdf(24_000, 9)).unwrap();

    let run = mono(&exe)
        .arg(&daemon.socket)
        .arg(&pin)
        .arg(PATIENT)
        .arg(&report)
        .output()
        .expect("mono runs the example");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let context = format!(
        "{stdout}\n{}\n{}",
        String::from_utf8_lossy(&run.stderr),
        daemon.logs()
    );
    assert!(run.status.success(), "the example failed:\n{context}");
    assert!(
        stdout.contains(&format!("libdspconnect {}", env!("CARGO_PKG_VERSION"))),
        "{context}"
    );
    assert!(stdout.contains("sandbox=True"), "{context}");
    assert!(stdout.contains("job state Done"), "{context}");
    assert!(
        stdout.contains("Lettre de sortie (C#)  Restreint"),
        "{context}"
    );
    assert!(stdout.contains("mode now Normal"), "{context}");
    assert!(stdout.contains("DSP URL: https://"), "{context}");
    assert!(
        stdout.contains("bad matricule: code 300 (BadMatricule), field metadata.patient"),
        "{context}"
    );
    assert!(stdout.contains("event: job"), "{context}");
    assert!(stdout.contains("done seen"), "{context}");

    // The daemon, asked on its own: the document is registered, in mode Normal.
    let unique_id = stdout
        .lines()
        .find_map(|l| l.split(", document ").nth(1))
        .unwrap_or_else(|| panic!("the example prints the document id:\n{context}"))
        .trim()
        .to_owned();
    let list = daemon
        .client()
        .call::<List>(&ListParams {
            patient: PATIENT.to_owned(),
            ..ListParams::default()
        })
        .expect("list through the IPC");
    let ours = list
        .documents
        .iter()
        .find(|d| d.unique_id == unique_id)
        .unwrap_or_else(|| panic!("{unique_id} is not registered: {list:?}"));
    assert_eq!(ours.mode, ConfidentialityMode::Normal, "{ours:?}");
    assert_eq!(ours.title, "Lettre de sortie (C#)");
    assert_eq!(ours.size, std::fs::metadata(&report).unwrap().len());
}

/// A small C# program exercising the error path: no daemon at a socket
/// path with non-ASCII characters (the message carries it back: UTF-8 both
/// ways), and a NUL inside a string refused before the library.
const NO_DAEMON_PROGRAM: &str = r#"
using System;
using DspConnect;

static class NoDaemon
{
    static int Main(string[] args)
    {
        Console.WriteLine("version " + DspClient.Version);
        try
        {
            using (var dsp = new DspClient(args[0], 2000))
            {
                Console.WriteLine("connected, which is wrong");
                return 1;
            }
        }
        catch (DspException e)
        {
            Console.WriteLine("code " + (uint)e.Code + " " + e.Code);
            Console.WriteLine("field " + (e.Field ?? "none") + ", tries " + (e.PinTriesLeft.HasValue ? e.PinTriesLeft.Value.ToString() : "none"));
            Console.WriteLine("message " + e.Message);
        }
        try
        {
            new DspClient("a\0b", 2000);
            return 1;
        }
        catch (ArgumentException e)
        {
            Console.WriteLine("refused " + e.ParamName);
        }
        return 0;
    }
}
"#;

#[test]
fn without_a_daemon_connect_throws_daemon_not_running() {
    if !mono_tools("without_a_daemon_connect_throws_daemon_not_running") {
        return;
    }
    let build = tempfile::tempdir().unwrap();
    let dll = build_binding(build.path());
    let source = build.path().join("NoDaemon.cs");
    std::fs::write(&source, NO_DAEMON_PROGRAM).unwrap();
    let exe = build.path().join("NoDaemon.exe");
    build_program(&dll, &[source], &exe);

    let socket = build.path().join("données-€").join("absent.sock");
    let run = mono(&exe).arg(&socket).output().expect("mono runs");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let context = format!("{stdout}\n{}", String::from_utf8_lossy(&run.stderr));
    assert!(run.status.success(), "{context}");
    assert!(
        stdout.contains(&format!("version {}", env!("CARGO_PKG_VERSION"))),
        "{context}"
    );
    assert!(stdout.contains("code 200 DaemonNotRunning"), "{context}");
    assert!(stdout.contains("field none, tries none"), "{context}");
    assert!(
        stdout.contains("[200 DaemonNotRunning]") && stdout.contains(&*socket.to_string_lossy()),
        "the message names the socket, decoded as UTF-8:\n{context}"
    );
    assert!(stdout.contains("refused socket"), "{context}");
}

/// The rest of the API from C#: every field of `dsp_status` (printed, to
/// be compared with the daemon's own answer), a wrong PIN's code and tries
/// left, a push from memory read back byte for byte, non-ASCII text both
/// ways, lock, and a call after Dispose.
const API_TOUR_PROGRAM: &str = r#"
using System;
using System.IO;
using System.Linq;
using DspConnect;

static class ApiTour
{
    static string Line(DspStatus s)
    {
        return "sandbox=" + s.Sandbox + " reader=" + s.ReaderPresent + " card=" + s.CardPresent
            + " pinpad=" + s.Pinpad + " blocked=" + s.Blocked + " swapped=" + s.CardSwapped
            + " tries=" + (s.PinTriesLeft.HasValue ? s.PinTriesLeft.Value.ToString() : "none")
            + " session=" + s.Session + " queued=" + s.OutboxQueued + " waiting=" + s.OutboxWaiting
            + " failed=" + s.OutboxFailed + " done=" + s.OutboxDone;
    }

    static int Main(string[] args)
    {
        string socket = args[0], pin = args[1], wrongPin = args[2], patient = args[3];
        string source = args[4], copy = args[5];
        var dsp = new DspClient(socket, 30000);
        try
        {
            dsp.Unlock(wrongPin);
            Console.WriteLine("a wrong PIN was accepted");
            return 1;
        }
        catch (DspException e)
        {
            Console.WriteLine("wrong pin: code " + (uint)e.Code + " " + e.Code + ", tries "
                + (e.PinTriesLeft.HasValue ? e.PinTriesLeft.Value.ToString() : "none"));
        }
        dsp.Unlock(pin);
        Console.WriteLine("unlocked: " + dsp.Status().Session);

        // The event thread starts with the first handler and stops with the last.
        EventHandler<DspEventArgs> ignore = (sender, e) => { };
        dsp.EventReceived += ignore;
        dsp.EventReceived -= ignore;
        Console.WriteLine("events stopped");

        byte[] data = File.ReadAllBytes(source);
        PushResult pushed = dsp.PushBytes(data, patient, "Données « mémoire » (C#) €", DspMode.Normal,
                                          true, "application/pdf");
        Console.WriteLine("bytes job " + dsp.JobWait(pushed.JobId, 60000));
        DspDocument doc = dsp.List(patient).Single(d => d.UniqueId == pushed.UniqueId);
        Console.WriteLine("listed title " + doc.Title + ", size " + doc.Size + ", mime " + doc.MimeType
            + ", mode " + doc.Mode + ", deprecated " + doc.Deprecated
            + ", author set " + (doc.Author.Length > 0) + ", time set " + (doc.CreationTime.Length > 0));
        dsp.GetToPath(patient, pushed.UniqueId, copy);
        Console.WriteLine("read back identical " + File.ReadAllBytes(copy).SequenceEqual(data));

        dsp.Lock();
        Console.WriteLine("final " + Line(dsp.Status()));
        dsp.Dispose();
        try
        {
            dsp.Status();
            Console.WriteLine("a disposed client answered");
            return 1;
        }
        catch (ObjectDisposedException)
        {
            Console.WriteLine("disposed");
        }
        return 0;
    }
}
"#;

#[test]
fn the_binding_carries_status_errors_bytes_and_text_exactly() {
    if !mono_tools("the_binding_carries_status_errors_bytes_and_text_exactly") {
        return;
    }
    let build = tempfile::tempdir().unwrap();
    let dll = build_binding(build.path());
    let source = build.path().join("ApiTour.cs");
    std::fs::write(&source, API_TOUR_PROGRAM).unwrap();
    let exe = build.path().join("ApiTour.exe");
    build_program(&dll, &[source], &exe);

    let sandbox = ExternalSandbox::start();
    let home = DaemonHome::new();
    let (card, pin) = sandbox.export_card("SBX1001", sandbox.dir.path());
    home.write_config(sandbox.profile(), |_| {});
    let daemon = Daemon::start(&home, &["--software-card", card.to_str().unwrap()]);
    let wrong_pin = if pin == "000000" { "111111" } else { "000000" };
    let document = home.path("home").join("memoire.pdf");
    std::fs::write(&document, pdf(31_000, 4)).unwrap();
    let copy = home.path("home").join("copie.pdf");

    let run = mono(&exe)
        .arg(&daemon.socket)
        .arg(&pin)
        .arg(wrong_pin)
        .arg(PATIENT)
        .arg(&document)
        .arg(&copy)
        .output()
        .expect("mono runs");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let context = format!(
        "{stdout}\n{}\n{}",
        String::from_utf8_lossy(&run.stderr),
        daemon.logs()
    );
    assert!(run.status.success(), "{context}");
    let tries = stdout
        .lines()
        .find_map(|l| l.strip_prefix("wrong pin: code 402 WrongPin, tries "))
        .unwrap_or_else(|| panic!("a wrong PIN gives DSP_E_WRONG_PIN:\n{context}"));
    assert!(
        tries.parse::<u8>().is_ok(),
        "the tries left come through: {tries}\n{context}"
    );
    assert!(stdout.contains("unlocked: Authenticated"), "{context}");
    assert!(stdout.contains("events stopped"), "{context}");
    assert!(stdout.contains("bytes job Done"), "{context}");
    let size = std::fs::metadata(&document).unwrap().len();
    assert!(
        stdout.contains(&format!(
            "listed title Données « mémoire » (C#) €, size {size}, mime application/pdf, mode Normal, \
             deprecated False, author set True, time set True"
        )),
        "{context}"
    );
    assert!(stdout.contains("read back identical True"), "{context}");
    assert!(stdout.contains("disposed"), "{context}");

    // Every field of dsp_status as C# read it, against the daemon's answer.
    let status = daemon
        .client()
        .call::<StatusMethod>(&Empty {})
        .expect("status through the IPC");
    let b = |v: bool| if v { "True" } else { "False" };
    let expected = format!(
        "final sandbox={} reader={} card={} pinpad={} blocked={} swapped={} tries={} session={:?} \
         queued={} waiting={} failed={} done={}",
        b(status.sandbox),
        b(status.card.reader_present),
        b(status.card.card_present),
        b(status.card.pinpad),
        b(status.card.blocked),
        b(status.card.swapped),
        status
            .card
            .pin_tries_left
            .map_or("none".to_owned(), |t| t.to_string()),
        status.session.state,
        status.outbox.queued,
        status.outbox.waiting,
        status.outbox.failed,
        status.outbox.done,
    );
    assert!(
        stdout.lines().any(|l| l == expected),
        "C# read dsp_status differently from the daemon's answer:\n  expected {expected}\n{context}"
    );
    assert!(expected.contains("session=Locked"), "{expected}");
    assert!(status.outbox.done >= 1, "{expected}");
}

/// Event delivery ending: the daemon is killed while a handler is
/// attached; `EventsFailed` reports why, and the client still disposes.
const EVENT_LOSS_PROGRAM: &str = r#"
using System;
using System.Threading;
using DspConnect;

static class EventLoss
{
    static int Main(string[] args)
    {
        var dsp = new DspClient(args[0], 5000);
        var failed = new ManualResetEvent(false);
        DspException why = null;
        dsp.EventsFailed += (sender, e) => { why = e.Error; failed.Set(); };
        dsp.EventReceived += (sender, e) => Console.WriteLine("event: " + e.Kind);
        Console.WriteLine("subscribed");
        Console.Out.Flush();
        if (!failed.WaitOne(60000))
        {
            Console.WriteLine("no failure reported");
            return 1;
        }
        Console.WriteLine("events failed: code " + (uint)why.Code + " " + why.Code);
        try
        {
            dsp.Status();
            Console.WriteLine("status answered without a daemon");
            return 1;
        }
        catch (DspException e)
        {
            Console.WriteLine("status: " + e.Code);
        }
        dsp.Dispose();
        Console.WriteLine("disposed");
        return 0;
    }
}
"#;

#[test]
fn when_the_daemon_goes_away_events_failed_reports_it() {
    use std::io::{BufRead as _, BufReader, Read as _};
    use std::process::Stdio;

    if !mono_tools("when_the_daemon_goes_away_events_failed_reports_it") {
        return;
    }
    let build = tempfile::tempdir().unwrap();
    let dll = build_binding(build.path());
    let source = build.path().join("EventLoss.cs");
    std::fs::write(&source, EVENT_LOSS_PROGRAM).unwrap();
    let exe = build.path().join("EventLoss.exe");
    build_program(&dll, &[source], &exe);

    let sandbox = ExternalSandbox::start();
    let home = DaemonHome::new();
    let (card, _pin) = sandbox.export_card("SBX1001", sandbox.dir.path());
    home.write_config(sandbox.profile(), |_| {});
    let mut daemon = Daemon::start(&home, &["--software-card", card.to_str().unwrap()]);

    let mut child = mono(&exe)
        .arg(&daemon.socket)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mono runs");
    let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        let n = stdout.read_line(&mut line).expect("the program's output");
        seen.push_str(&line);
        if n == 0 || line.trim() == "subscribed" {
            break;
        }
    }
    assert!(seen.contains("subscribed"), "{seen}");
    daemon.kill9();
    stdout
        .read_to_string(&mut seen)
        .expect("the program's output");
    let status = child.wait().expect("the program ends");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("piped stderr")
        .read_to_string(&mut stderr)
        .unwrap();
    let context = format!("{seen}\n{stderr}");
    assert!(status.success(), "{status}:\n{context}");
    assert!(
        seen.contains("events failed: code 201 ConnectionLost"),
        "{context}"
    );
    assert!(seen.contains("status: ConnectionLost"), "{context}");
    assert!(seen.contains("disposed"), "{context}");
}

/// Where `word` occurs in `text` as a whole word (not inside `mint`).
fn word_positions(text: &str, word: &str) -> Vec<usize> {
    let bytes = text.as_bytes();
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    text.match_indices(word)
        .map(|(at, _)| at)
        .filter(|&at| {
            let before = at.checked_sub(1).map(|i| bytes[i]);
            let after = bytes.get(at + word.len()).copied();
            !before.is_some_and(is_word) && !after.is_some_and(is_word)
        })
        .collect()
}

/// The text of the parenthesised arguments starting at the first `(` of
/// `rest`, or None when there is none.
fn arguments(rest: &str) -> Option<&str> {
    let open = rest.find('(')?;
    let mut depth = 0usize;
    for (i, c) in rest[open..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(&rest[open..open + i]);
                }
            }
            _ => {}
        }
    }
    Some(&rest[open..])
}

/// What the lint finds in one C# file: `file:line: reason` each.
fn lint(name: &str, text: &str) -> Vec<String> {
    let mut findings = Vec::new();
    let line_of = |offset: usize| text[..offset].matches('\n').count() + 1;
    for (at, _) in text.match_indices("PtrToStringUTF8") {
        findings.push(format!(
            "{name}:{}: PtrToStringUTF8 (.NET Framework lacks it; find the NUL and use Encoding.UTF8)",
            line_of(at)
        ));
    }
    for word in ["nint", "nuint"] {
        for at in word_positions(text, word) {
            findings.push(format!(
                "{name}:{}: `{word}` (C# 9; use IntPtr / UIntPtr)",
                line_of(at)
            ));
        }
    }
    for at in word_positions(text, "delegate") {
        if text[at + "delegate".len()..].trim_start().starts_with('*') {
            findings.push(format!(
                "{name}:{}: `delegate*` function pointer (C# 9)",
                line_of(at)
            ));
        }
    }
    for attribute in ["DllImport", "UnmanagedFunctionPointer"] {
        let mut positions = word_positions(text, attribute);
        positions.extend(word_positions(text, &format!("{attribute}Attribute")));
        for at in positions {
            let cdecl =
                arguments(&text[at..]).is_some_and(|a| a.contains("CallingConvention.Cdecl"));
            if !cdecl {
                findings.push(format!(
                    "{name}:{}: {attribute} without CallingConvention.Cdecl",
                    line_of(at)
                ));
            }
        }
    }
    for (at, _) in text.match_indices("static extern ") {
        let declaration = text[at..].split(';').next().unwrap_or("");
        if !word_positions(declaration, "string").is_empty() {
            findings.push(format!(
                "{name}:{}: an import with a `string` (the marshaller would free Rust memory \
                 with the wrong allocator); use byte pointers",
                line_of(at)
            ));
        }
    }
    findings
}

#[test]
fn the_csharp_sources_use_nothing_net_framework_lacks_and_import_cdecl() {
    let mut files = binding_sources();
    files.extend(cs_files(&workspace().join("examples/csharp")));
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for expected in ["NativeMethods.g.cs", "DspConnect.cs", "Push.cs"] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} not found among {names:?}"
        );
    }
    let mut findings = Vec::new();
    let mut imports = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        imports += text.matches("[DllImport(").count();
        let relative = file.strip_prefix(workspace()).unwrap_or(file);
        findings.extend(lint(&relative.display().to_string(), &text));
    }
    assert!(imports >= 25, "only {imports} DllImports were scanned");
    assert!(findings.is_empty(), "{}", findings.join("\n"));
}

#[test]
fn the_lint_finds_each_forbidden_construct() {
    let cases = [
        ("string s = Marshal.PtrToStringUTF8(p);", "PtrToStringUTF8"),
        ("nint size = 0;", "`nint`"),
        ("static void F(nuint n) {}", "`nuint`"),
        ("delegate* unmanaged[Cdecl]<int, void> f;", "delegate*"),
        (
            "[DllImport(\"dspconnect\")]\nstatic extern void dsp_lock(IntPtr c);",
            "DllImport without CallingConvention.Cdecl",
        ),
        (
            "[DllImport(\"dspconnect\",\n    CallingConvention = CallingConvention.StdCall)]\nstatic extern void f();",
            "DllImport without CallingConvention.Cdecl",
        ),
        (
            "[UnmanagedFunctionPointer(CallingConvention.Winapi)] delegate void Cb();",
            "UnmanagedFunctionPointer without CallingConvention.Cdecl",
        ),
        (
            "[DllImportAttribute(\"x\")] static extern void g();",
            "DllImport without CallingConvention.Cdecl",
        ),
        (
            "[DllImport(\"x\", CallingConvention = CallingConvention.Cdecl)] static extern string dsp_version();",
            "`string`",
        ),
    ];
    for (source, reason) in cases {
        let findings = lint("Bad.cs", &format!("class C {{\n{source}\n}}\n"));
        assert!(
            findings.len() == 1
                && findings[0].contains(reason)
                && findings[0].starts_with("Bad.cs:2:"),
            "for {source:?} expected one finding about {reason} at Bad.cs:2, got {findings:?}"
        );
    }
    let fine = "class C {\n[DllImport(\"dspconnect\", EntryPoint = \"dsp_lock\", CallingConvention = CallingConvention.Cdecl)]\n\
                static extern dsp_error* dsp_lock(dsp_client* c);\n\
                delegate void Plain(); int mint = 0; string pinned = \"nint\";\n}\n";
    // "nint" inside a string literal is a word too: the lint is strict.
    assert_eq!(
        lint("Fine.cs", fine).len(),
        1,
        "{:?}",
        lint("Fine.cs", fine)
    );
    let fine = fine.replace("\"nint\"", "\"n\"");
    assert!(
        lint("Fine.cs", &fine).is_empty(),
        "{:?}",
        lint("Fine.cs", &fine)
    );
}
