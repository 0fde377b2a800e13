//! The C++ and Pascal bindings of libdspconnect as practice software uses
//! them: bindings/cpp/dspconnect.hpp and bindings/pascal/DspConnect.pas,
//! their examples compiled (g++ -Werror, fpc -Mdelphi -Sew) against the
//! shared library and run against the real daemon and the sandbox, with
//! the result read back through the daemon; every export of the built
//! library wrapped by each binding; the Pascal records laid out as the C
//! structs; the C++ error paths clean under AddressSanitizer.
//!
//! A missing g++ or fpc skips a test (with a message) unless
//! DSP_REQUIRE_TOOLS is set, as the test script does.

mod daemon_support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use daemon_support::*;
use dspconnect::ipc::protocol::{List, ListParams};
use dspconnect::model::ConfidentialityMode;

const PATIENT: &str = "1945093006704";

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_owned()
}

/// Whether `tool` can run. Absent: the test is skipped (false) unless
/// DSP_REQUIRE_TOOLS is set, when it fails.
fn have_tool(tool: &str, version_arg: &str, package: &str) -> bool {
    let runs = Command::new(tool)
        .arg(version_arg)
        .output()
        .is_ok_and(|o| o.status.success());
    if runs {
        return true;
    }
    assert!(
        std::env::var_os("DSP_REQUIRE_TOOLS").is_none(),
        "{tool} is required (DSP_REQUIRE_TOOLS is set) but does not run: install the Debian package {package}"
    );
    eprintln!(
        "SKIPPED: {tool} is not installed (Debian package {package}); set DSP_REQUIRE_TOOLS=1 to make this a failure"
    );
    false
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn run_ok(command: &mut Command, what: &str) -> Output {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{what} runs: {e}"));
    let (stdout, stderr) = text(&out);
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    out
}

/// g++ with the flags of examples/cpp/README.md (warnings are errors).
fn compile_cpp(source: &Path, program: &Path, lib: &Path, extra: &[&str]) {
    let started = Instant::now();
    run_ok(
        Command::new("g++")
            .args(["-std=c++17", "-Wall", "-Wextra", "-Werror", "-pedantic"])
            .args(extra)
            .arg("-I")
            .arg(workspace().join("bindings/cpp"))
            .arg("-I")
            .arg(workspace().join("include"))
            .arg(source)
            .arg("-L")
            .arg(lib)
            .arg("-ldspconnect")
            .arg(format!("-Wl,-rpath,{}", lib.display()))
            .arg("-o")
            .arg(program),
        &format!("g++ {}", source.display()),
    );
    eprintln!(
        "g++ {}: {:.1} s",
        source.display(),
        started.elapsed().as_secs_f64()
    );
}

/// fpc with the flags of examples/pascal/README.md (Delphi mode, warnings
/// are errors); units and program go to `out`. Returns the program.
fn compile_pascal(source: &Path, out: &Path, lib: &Path) -> PathBuf {
    let started = Instant::now();
    run_ok(
        Command::new("fpc")
            .arg("-Mdelphi")
            .arg("-Sew")
            .arg(format!(
                "-Fu{}",
                workspace().join("bindings/pascal").display()
            ))
            .arg(format!("-Fl{}", lib.display()))
            .arg("-k-rpath")
            .arg(format!("-k{}", lib.display()))
            .arg(format!("-FU{}", out.display()))
            .arg(format!("-FE{}", out.display()))
            .arg(source),
        &format!("fpc {}", source.display()),
    );
    eprintln!(
        "fpc {}: {:.1} s",
        source.display(),
        started.elapsed().as_secs_f64()
    );
    out.join(source.file_stem().expect("program name"))
}

/// g++ flags for a program under AddressSanitizer, LeakSanitizer and UBSan.
const ASAN_FLAGS: &[&str] = &[
    "-g",
    "-fsanitize=address,undefined",
    "-fno-omit-frame-pointer",
    "-fno-sanitize-recover=all",
];
const ASAN_OPTIONS: &str = "detect_leaks=1:halt_on_error=1:abort_on_error=0:exitcode=23";

/// Runs each example program (SOCKET PIN PATIENT FILE) in turn against one
/// real daemon on the sandbox, checks its output and reads the result back
/// through the daemon and the platform. `title` is the title it pushes.
fn push_examples_against_the_daemon(programs: &[&Path], title: &str) {
    let sandbox = ExternalSandbox::start();
    let home = DaemonHome::new();
    let (card, pin) = sandbox.export_card("SBX1001", sandbox.dir.path());
    home.write_config(sandbox.profile(), |_| {});
    let daemon = Daemon::start(&home, &["--software-card", card.to_str().unwrap()]);
    for (n, program) in programs.iter().enumerate() {
        let report = home.path("home").join(format!("report-{n}.pdf"));
        std::fs::write(&report, pdf(24_000, 11 + n as u8)).unwrap();
        push_example(program, title, &sandbox, &daemon, &pin, &report);
    }
}

fn push_example(
    program: &Path,
    title: &str,
    sandbox: &ExternalSandbox,
    daemon: &Daemon,
    pin: &str,
    report: &Path,
) {
    let started = Instant::now();
    let run = Command::new(program)
        .env("ASAN_OPTIONS", ASAN_OPTIONS)
        .arg(&daemon.socket)
        .arg(pin)
        .arg(PATIENT)
        .arg(report)
        .output()
        .expect("the example runs");
    eprintln!(
        "{} against the daemon: {:.1} s",
        program.display(),
        started.elapsed().as_secs_f64()
    );
    let (stdout, stderr) = text(&run);
    let context = format!(
        "stdout:\n{stdout}\nstderr:\n{stderr}\ndaemon:\n{}",
        daemon.logs()
    );
    assert!(run.status.success(), "{}: {context}", run.status);
    assert!(!stderr.contains("Sanitizer"), "{context}");
    assert!(
        stdout.starts_with(&format!("libdspconnect {}\n", env!("CARGO_PKG_VERSION"))),
        "{context}"
    );
    assert!(stdout.contains("sandbox=1 card_present=1"), "{context}");
    assert!(stdout.contains("job state Done"), "{context}");
    let size = std::fs::metadata(report).expect("the report").len();
    assert!(
        stdout.contains(&format!("job status Done, {size} of {size} bytes")),
        "{context}"
    );
    assert!(
        stdout.contains(&format!("read back {size} bytes, application/pdf")),
        "{context}"
    );
    assert!(stdout.contains("hpd: SBX1002 "), "{context}");
    assert!(
        stdout.contains(&format!("{title}  mode Restreint")),
        "{context}"
    );
    assert!(stdout.contains("mode now Normal"), "{context}");
    assert!(
        stdout.contains("bad matricule: code 300, field metadata.patient"),
        "{context}"
    );
    let unique_id = stdout
        .lines()
        .find_map(|l| l.strip_prefix("queued job ")?.split(", document ").nth(1))
        .expect("the example prints the document id")
        .trim()
        .to_owned();
    let url = stdout
        .lines()
        .find_map(|l| l.strip_prefix("DSP URL: "))
        .expect("the example prints the DSP URL")
        .trim()
        .to_owned();

    // Read back through the daemon: registered, titled, now in mode Normal.
    let mut client = daemon.client();
    let list = client
        .call::<List>(&ListParams {
            patient: PATIENT.to_owned(),
            ..ListParams::default()
        })
        .expect("list through the daemon");
    let document = list
        .documents
        .iter()
        .find(|d| d.unique_id == unique_id)
        .unwrap_or_else(|| panic!("document {unique_id} not registered: {list:?}"));
    assert_eq!(document.title, title);
    assert_eq!(document.mode, ConfidentialityMode::Normal, "{document:?}");
    assert_eq!(document.patient, PATIENT);

    // And the URL the example printed opens the patient's DSP listing it.
    assert!(
        url.starts_with(sandbox.running().base_url()),
        "{url} is not on the sandbox"
    );
    let (status, page) = sandbox.fetch(&url);
    assert_eq!(status, 200, "{page}");
    assert!(page.contains(title), "the DSP page lists {title}: {page}");
}

/// An example without a daemon: a usage error exits 2; a missing socket
/// (its path not ASCII) exits 1 naming code 200 and the path intact.
fn example_without_a_daemon(program: &Path) {
    let usage = Command::new(program)
        .env("ASAN_OPTIONS", ASAN_OPTIONS)
        .output()
        .expect("the example runs");
    assert_eq!(usage.status.code(), Some(2), "{:?}", text(&usage));
    assert!(text(&usage).1.contains("usage:"), "{:?}", text(&usage));

    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("cabinet-médical «B»").join("dsp.sock");
    let run = Command::new(program)
        .env("ASAN_OPTIONS", ASAN_OPTIONS)
        .arg(&socket)
        .args(["1234", PATIENT, "/nonexistent/report.pdf"])
        .output()
        .expect("the example runs");
    let (stdout, stderr) = text(&run);
    assert_eq!(run.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("connect failed: [200] "),
        "{stdout}\n{stderr}"
    );
    assert!(
        stderr.contains(&socket.display().to_string()),
        "the message carries the path as UTF-8: {stderr}"
    );
    assert!(!stderr.contains("Sanitizer"), "{stderr}");
}

#[test]
fn the_cpp_example_pushes_restreint_then_sets_normal_through_the_daemon() {
    if !have_tool("g++", "--version", "g++") {
        return;
    }
    let lib = ffi_library_dir();
    let out = tempfile::tempdir().unwrap();
    let program = out.path().join("push-cpp");
    compile_cpp(
        &workspace().join("examples/cpp/push.cpp"),
        &program,
        &lib,
        &[],
    );
    // The same example under AddressSanitizer and LeakSanitizer: every
    // string, list and error of a real run freed exactly once.
    let asan = out.path().join("push-cpp-asan");
    compile_cpp(
        &workspace().join("examples/cpp/push.cpp"),
        &asan,
        &lib,
        ASAN_FLAGS,
    );
    example_without_a_daemon(&program);
    example_without_a_daemon(&asan);
    push_examples_against_the_daemon(&[&program, &asan], "Lettre de sortie (C++)");
}

#[test]
fn the_pascal_example_pushes_restreint_then_sets_normal_through_the_daemon() {
    if !have_tool("fpc", "-iV", "fp-compiler") {
        return;
    }
    let lib = ffi_library_dir();
    let out = tempfile::tempdir().unwrap();
    let program = compile_pascal(
        &workspace().join("examples/pascal/push.pas"),
        out.path(),
        &lib,
    );
    example_without_a_daemon(&program);
    push_examples_against_the_daemon(&[&program], "Lettre de sortie (Pascal)");
}

/// The `dsp_*` functions the built library exports (nm -D).
fn exported_symbols() -> BTreeSet<String> {
    let lib = ffi_library_dir().join("libdspconnect.so");
    let out = run_ok(
        Command::new("nm").args(["-D", "--defined-only"]).arg(&lib),
        "nm (Debian package binutils)",
    );
    let symbols: BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let mut parts = line.split_whitespace();
            let (_address, kind, name) = (parts.next()?, parts.next()?, parts.next()?);
            (kind == "T" && name.starts_with("dsp_")).then(|| name.to_owned())
        })
        .collect();
    assert!(
        symbols.len() >= 20 && symbols.contains("dsp_connect"),
        "nm found too few dsp_ exports in {}: {symbols:?}",
        lib.display()
    );
    symbols
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Whether `name` occurs in `code` as a whole identifier followed (after
/// spaces) by one of `next` (e.g. "(" for a call).
fn occurs_as(code: &str, name: &str, next: &[char]) -> bool {
    let bytes = code.as_bytes();
    code.match_indices(name).any(|(at, _)| {
        let end = at + name.len();
        let before_ok = at == 0 || !is_ident(bytes[at - 1]);
        let after_ok = end == bytes.len() || !is_ident(bytes[end]);
        before_ok
            && after_ok
            && code[end..]
                .trim_start()
                .chars()
                .next()
                .is_some_and(|c| next.contains(&c))
    })
}

/// `code` without its comments (C and C++: `//…` and `/*…*/`; Pascal:
/// `//…`, `{…}` except `{$…}` directives, `(*…*)`); string literals kept.
fn strip_comments(code: &str, pascal: bool) -> String {
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    while let Some(c) = rest.chars().next() {
        let (skip_to, keep): (Option<&str>, bool) = if rest.starts_with("//") {
            (Some("\n"), false)
        } else if !pascal && rest.starts_with("/*") {
            (Some("*/"), false)
        } else if pascal && rest.starts_with("(*") {
            (Some("*)"), false)
        } else if pascal && rest.starts_with('{') && !rest.starts_with("{$") {
            (Some("}"), false)
        } else if rest.starts_with('"') && !pascal {
            (Some("\""), true)
        } else if rest.starts_with('\'') && pascal {
            (Some("'"), true)
        } else {
            (None, true)
        };
        match skip_to {
            Some(end) => {
                let body = &rest[1..];
                let stop = body.find(end).map_or(body.len(), |i| i + end.len());
                if keep {
                    out.push_str(&rest[..1 + stop]);
                } else {
                    out.push(' ');
                }
                rest = &body[stop..];
            }
            None => {
                out.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    out
}

/// Every export the binding misses; empty when it wraps them all.
fn cpp_misses(symbols: &BTreeSet<String>, hpp: &str) -> Vec<String> {
    let code = strip_comments(hpp, false);
    symbols
        .iter()
        .filter(|s| !occurs_as(&code, s, &['(']))
        .cloned()
        .collect()
}

/// For Pascal each export must be declared `cdecl; external … name 'dsp_x'`
/// under its own name, and used by the implementation (the wrapper).
fn pascal_misses(symbols: &BTreeSet<String>, pas: &str) -> Vec<String> {
    let code = strip_comments(pas, true);
    let lower = code.to_ascii_lowercase();
    let (interface, implementation) = lower
        .split_once("\nimplementation")
        .expect("the unit has an implementation section");
    let mut misses = Vec::new();
    for s in symbols {
        let declared = interface
            .match_indices(&format!("name '{s}';"))
            .any(|(at, _)| {
                // The declaration this external clause ends starts at the
                // last `function`/`procedure` keyword before it.
                let head = &interface[..at];
                let start = [head.rfind("function "), head.rfind("procedure ")]
                    .into_iter()
                    .flatten()
                    .max()
                    .unwrap_or(0);
                let decl = &head[start..];
                let named = ["function ", "procedure "].iter().any(|k| {
                    decl.strip_prefix(k)
                        .and_then(|d| d.strip_prefix(s.as_str()))
                        .and_then(|d| d.bytes().next())
                        .is_some_and(|b| !is_ident(b))
                });
                named && decl.contains("cdecl;") && decl.contains("external dsplibrary")
            });
        let used = occurs_as(implementation, s, &['(', ';', ')']);
        if !declared || !used {
            misses.push(format!(
                "{s} ({})",
                if declared {
                    "declared, never called"
                } else {
                    "no cdecl external declaration"
                }
            ));
        }
    }
    misses
}

#[test]
fn every_export_of_the_library_is_wrapped_by_each_binding() {
    let symbols = exported_symbols();
    eprintln!("{} exports: {symbols:?}", symbols.len());

    let hpp = std::fs::read_to_string(workspace().join("bindings/cpp/dspconnect.hpp")).unwrap();
    let misses = cpp_misses(&symbols, &hpp);
    assert!(
        misses.is_empty(),
        "bindings/cpp/dspconnect.hpp does not call these exports: {misses:?}"
    );

    let pas = std::fs::read_to_string(workspace().join("bindings/pascal/DspConnect.pas")).unwrap();
    let misses = pascal_misses(&symbols, &pas);
    assert!(
        misses.is_empty(),
        "bindings/pascal/DspConnect.pas misses these exports: {misses:?}"
    );
    // Every external in the unit is cdecl (no register/stdcall slips in).
    let code = strip_comments(&pas, true).to_ascii_lowercase();
    let externals = code.matches("external dsplibrary").count();
    let cdecl_externals = code.matches("cdecl; external dsplibrary").count();
    assert_eq!(
        externals, cdecl_externals,
        "every external declaration is `cdecl; external DspLibrary`"
    );
    assert_eq!(
        externals,
        symbols.len(),
        "one external declaration per export"
    );

    // The C# binding is another helper's; checked when it exists.
    let cs = workspace().join("bindings/csharp/NativeMethods.g.cs");
    match std::fs::read_to_string(&cs) {
        Ok(cs_text) => {
            let code = strip_comments(&cs_text, false);
            let misses: Vec<&String> = symbols
                .iter()
                .filter(|s| {
                    !occurs_as(&code, s, &['(', '"']) && !code.contains(&format!("\"{s}\""))
                })
                .collect();
            assert!(
                misses.is_empty(),
                "{} misses these exports: {misses:?}",
                cs.display()
            );
        }
        Err(_) => eprintln!("{} absent: not checked", cs.display()),
    }
}

#[test]
fn the_coverage_check_notices_a_missing_export() {
    // The check itself: one wrapped call removed is reported, by name.
    let symbols = exported_symbols();
    let hpp = std::fs::read_to_string(workspace().join("bindings/cpp/dspconnect.hpp")).unwrap();
    let without = hpp.replace("dsp_report_anomaly(", "dsp_report_anomaly_gone(");
    assert_eq!(cpp_misses(&symbols, &without), ["dsp_report_anomaly"]);
    // A mention in a comment does not count as wrapping.
    let commented = hpp.replace(
        "dsp_subscribe(client_.get())",
        "/* dsp_subscribe(client_.get()) */ nullptr",
    );
    assert_eq!(cpp_misses(&symbols, &commented), ["dsp_subscribe"]);

    let pas = std::fs::read_to_string(workspace().join("bindings/pascal/DspConnect.pas")).unwrap();
    let not_cdecl = pas.replace(
        "  cdecl; external DspLibrary name 'dsp_lock';",
        "  stdcall; external DspLibrary name 'dsp_lock';",
    );
    assert_ne!(not_cdecl, pas);
    assert_eq!(
        pascal_misses(&symbols, &not_cdecl),
        ["dsp_lock (no cdecl external declaration)"]
    );
    let unused = pas.replace("DspCheck(dsp_subscribe(FHandle));", "DspCheck(nil);");
    assert_ne!(unused, pas);
    assert_eq!(
        pascal_misses(&symbols, &unused),
        ["dsp_subscribe (declared, never called)"]
    );
}

#[test]
fn the_error_codes_of_each_binding_are_the_libraries() {
    let hpp = std::fs::read_to_string(workspace().join("bindings/cpp/dspconnect.hpp")).unwrap();
    let pas = std::fs::read_to_string(workspace().join("bindings/pascal/DspConnect.pas")).unwrap();
    for &code in dspconnect::ErrorCode::ALL {
        let cpp = format!("  {code:?} = {},\n", code.number());
        assert!(hpp.contains(&cpp), "dspconnect.hpp lacks `{}`", cpp.trim());
        let pascal = format!("  {} = {};\n", code.name(), code.number());
        assert!(
            pas.contains(&pascal),
            "DspConnect.pas lacks `{}`",
            pascal.trim()
        );
    }
    let count = |text: &str, prefix: &str| {
        text.lines()
            .filter(|l| l.trim_start().starts_with(prefix))
            .count()
    };
    assert_eq!(
        count(&pas, "DSP_E_"),
        dspconnect::ErrorCode::ALL.len(),
        "no stale DSP_E_ constants"
    );
}

/// The header's typedef'd structs: (name, [field]) in order.
fn header_structs() -> Vec<(String, Vec<String>)> {
    let header = std::fs::read_to_string(workspace().join("include/dspconnect.h")).unwrap();
    let code = strip_comments(&header, false);
    let mut structs = Vec::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("typedef struct {") {
        let body_start = at + "typedef struct {".len();
        let close = rest[body_start..].find('}').expect("struct closes") + body_start;
        let fields = rest[body_start..close]
            .split(';')
            .filter_map(|decl| {
                let decl = decl.trim();
                (!decl.is_empty()).then(|| {
                    decl.rsplit(|c: char| c.is_whitespace() || c == '*')
                        .next()
                        .expect("field name")
                        .to_owned()
                })
            })
            .collect();
        let after = &rest[close + 1..];
        let semi = after.find(';').expect("typedef name");
        structs.push((after[..semi].trim().to_owned(), fields));
        rest = &after[semi..];
    }
    assert!(
        structs.len() >= 4,
        "the header's structs were not found: {structs:?}"
    );
    structs
}

/// The header's enum constants (`DSP_…_X = n`).
fn header_constants() -> Vec<String> {
    let header = std::fs::read_to_string(workspace().join("include/dspconnect.h")).unwrap();
    let constants: Vec<String> = header
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            (l.starts_with("DSP_") && l.contains(" = "))
                .then(|| l.split(" = ").next().expect("name").to_owned())
        })
        .collect();
    assert!(constants.len() >= 20, "{constants:?}");
    constants
}

#[test]
fn the_pascal_records_and_constants_match_the_c_header() {
    if !have_tool("fpc", "-iV", "fp-compiler") || !have_tool("gcc", "--version", "gcc") {
        return;
    }
    let lib = ffi_library_dir();
    let out = tempfile::tempdir().unwrap();
    let structs = header_structs();
    let constants = header_constants();

    let mut c = String::from(
        "#include <stdio.h>\n#include <stddef.h>\n#include \"dspconnect.h\"\nint main(void) {\n",
    );
    let mut pas = String::from(
        "program layout;\n{$IFDEF FPC}{$MODE DELPHI}{$ENDIF}\nuses DspConnect;\n\
         function Off(Base, Field: Pointer): NativeUInt;\n\
         begin Result := NativeUInt(Field) - NativeUInt(Base); end;\nvar\n",
    );
    for (i, (name, _)) in structs.iter().enumerate() {
        pas.push_str(&format!("  V{i}: {name};\n"));
    }
    pas.push_str("begin\n");
    for (i, (name, fields)) in structs.iter().enumerate() {
        c.push_str(&format!(
            "  printf(\"{name} size %zu\\n\", sizeof({name}));\n"
        ));
        pas.push_str(&format!("  WriteLn('{name} size ', SizeOf({name}));\n"));
        for f in fields {
            c.push_str(&format!(
                "  printf(\"{name}.{f} %zu size %zu\\n\", offsetof({name}, {f}), sizeof((({name} *)0)->{f}));\n"
            ));
            pas.push_str(&format!(
                "  WriteLn('{name}.{f} ', Off(@V{i}, @V{i}.{f}), ' size ', SizeOf(V{i}.{f}));\n"
            ));
        }
    }
    for k in &constants {
        c.push_str(&format!("  printf(\"{k} %u\\n\", (unsigned){k});\n"));
        pas.push_str(&format!("  WriteLn('{k} ', {k});\n"));
    }
    c.push_str("  return 0;\n}\n");
    pas.push_str("end.\n");

    let c_source = out.path().join("layout.c");
    std::fs::write(&c_source, &c).unwrap();
    let c_program = out.path().join("layout-c");
    run_ok(
        Command::new("gcc")
            .args(["-std=c99", "-Wall", "-Werror"])
            .arg("-I")
            .arg(workspace().join("include"))
            .arg(&c_source)
            .arg("-o")
            .arg(&c_program),
        "gcc layout.c",
    );
    let c_layout =
        String::from_utf8(run_ok(&mut Command::new(&c_program), "layout-c").stdout).expect("UTF-8");

    let pas_source = out.path().join("layout.pas");
    std::fs::write(&pas_source, &pas).unwrap();
    let pas_program = compile_pascal(&pas_source, out.path(), &lib);
    let pas_layout =
        String::from_utf8(run_ok(&mut Command::new(&pas_program), "layout (Pascal)").stdout)
            .expect("UTF-8");
    assert!(c_layout.contains("dsp_document size 64"), "{c_layout}");
    let first_difference = pas_layout
        .lines()
        .zip(c_layout.lines())
        .find(|(p, c)| p != c);
    assert!(
        pas_layout == c_layout,
        "the Pascal records are not laid out as the C structs: first difference Pascal `{:?}` vs C `{:?}`\nPascal:\n{pas_layout}\nC:\n{c_layout}",
        first_difference.map(|d| d.0),
        first_difference.map(|d| d.1),
    );
}

/// A C++ program over the header alone, without a daemon: every error path
/// (no daemon, no connection, empty list) throws the right code and frees
/// what the library returned; AddressSanitizer and LeakSanitizer watch.
const ASAN_PROGRAM: &str = r#"
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>

#include "dspconnect.hpp"

using dspconnect::Client;
using dspconnect::Error;
using dspconnect::ErrorCode;

static int failures = 0;

#define EXPECT(cond)                                                    \
  do {                                                                  \
    if (!(cond)) {                                                      \
      std::printf("FAILED line %d: %s\n", __LINE__, #cond);             \
      ++failures;                                                       \
    }                                                                   \
  } while (0)

template <typename F>
static void expect_error(const char *what, ErrorCode code, F &&f) {
  try {
    f();
    std::printf("FAILED %s: no error\n", what);
    ++failures;
  } catch (const Error &e) {
    if (e.code() != code) {
      std::printf("FAILED %s: code %u (%s), wanted %u\n", what, e.code_number(), e.what(),
                  static_cast<unsigned>(code));
      ++failures;
    } else if (std::strlen(e.what()) == 0) {
      std::printf("FAILED %s: empty message\n", what);
      ++failures;
    }
  }
}

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  const std::string missing = argv[1];
  EXPECT(!dspconnect::version().empty());

  for (int round = 0; round < 200; ++round) {
    expect_error("connect to a missing socket", ErrorCode::DaemonNotRunning,
                 [&] { Client::connect(missing, 1000); });
    expect_error("connect at the default endpoint", ErrorCode::DaemonNotRunning,
                 [&] { Client::connect(); });

    Client none(nullptr);
    EXPECT(!none);
    Client moved = std::move(none);
    EXPECT(!moved && !none);
    dspconnect::PushMetadata m;
    m.patient = "1945093006704";
    m.title = "t";
    m.patient_informed = true;
    m.mime_type = std::string("application/pdf");
    const std::string bytes = "%PDF-1.4\n";
    expect_error("status", ErrorCode::NullArgument, [&] { moved.status(); });
    expect_error("unlock", ErrorCode::NullArgument, [&] { moved.unlock("1234"); });
    expect_error("pinpad", ErrorCode::NullArgument, [&] { moved.unlock_with_pinpad(); });
    expect_error("lock", ErrorCode::NullArgument, [&] { moved.lock(); });
    expect_error("push_file", ErrorCode::NullArgument, [&] { moved.push_file("/x.pdf", m); });
    expect_error("push_buffer", ErrorCode::NullArgument, [&] { moved.push_buffer(bytes, m); });
    expect_error("job_wait", ErrorCode::NullArgument, [&] { moved.job_wait("j", 1); });
    expect_error("set_mode", ErrorCode::NullArgument,
                 [&] { moved.set_mode(m.patient, "u", dspconnect::Mode::Prive); });
    expect_error("list", ErrorCode::NullArgument, [&] { moved.list(m.patient); });
    expect_error("get_to_path", ErrorCode::NullArgument,
                 [&] { moved.get_to_path(m.patient, "u", "/tmp/none"); });
    expect_error("open_dsp", ErrorCode::NullArgument,
                 [&] { moved.open_dsp(m.patient, false); });
    expect_error("patient_access", ErrorCode::NullArgument,
                 [&] { moved.patient_access(m.patient, "ABCD1234"); });
    expect_error("report_anomaly", ErrorCode::NullArgument,
                 [&] { moved.report_anomaly(m.patient, "u", "d"); });
    expect_error("subscribe", ErrorCode::NullArgument, [&] { moved.subscribe(); });
    expect_error("next_event", ErrorCode::NullArgument, [&] { moved.next_event(1); });
    expect_error("set_event_handler", ErrorCode::NullArgument,
                 [&] { moved.set_event_handler([](std::string_view) {}); });
    expect_error("job_status", ErrorCode::NullArgument, [&] { moved.job_status("j"); });
    expect_error("replace_file", ErrorCode::NullArgument,
                 [&] { moved.replace_file("u", "/x.pdf", m); });
    expect_error("replace_buffer", ErrorCode::NullArgument,
                 [&] { moved.replace_buffer("u", bytes.data(), bytes.size(), m); });
    expect_error("password_login", ErrorCode::NullArgument,
                 [&] { moved.password_login(m.patient, "secret"); });
    expect_error("account_activate", ErrorCode::NullArgument,
                 [&] { moved.account_activate("K7TQ", m.patient, "a@example.lu"); });
    expect_error("account_activate_confirm", ErrorCode::NullArgument,
                 [&] { moved.account_activate_confirm("K7TQ", m.patient, "123", "pw"); });
    expect_error("change_password", ErrorCode::NullArgument,
                 [&] { moved.change_password("a", "b"); });
    expect_error("hpd_lookup", ErrorCode::NullArgument,
                 [&] { moved.hpd_lookup(std::string("SBX1002"), std::nullopt); });
    expect_error("get_to_buffer", ErrorCode::NullArgument,
                 [&] { moved.get_to_buffer(m.patient, "u"); });

    dspconnect::DocumentList empty(nullptr);
    EXPECT(empty.size() == 0 && empty.empty() && empty.begin() == empty.end());
    EXPECT(empty.to_vector().empty());
    bool out_of_range = false;
    try {
      empty.at(0);
    } catch (const std::out_of_range &) {
      out_of_range = true;
    }
    EXPECT(out_of_range);
    dspconnect::DocumentList taken = std::move(empty);
    EXPECT(taken.raw() == nullptr);
  }

  // The error carries the hint the library gives for a missing daemon.
  try {
    Client::connect(missing, 1000);
  } catch (const Error &e) {
    std::printf("daemon not running: code %u, hint %s, field %s, tries %s\n", e.code_number(),
                e.hint() ? "yes" : "no", e.field() ? e.field()->c_str() : "none",
                e.pin_tries_left() ? "known" : "unknown");
  }
  std::printf("%s\n", failures == 0 ? "all error paths ok" : "FAILURES");
  return failures == 0 ? 0 : 1;
}
"#;

#[test]
fn the_cpp_error_paths_are_clean_under_address_sanitizer() {
    if !have_tool("g++", "--version", "g++") {
        return;
    }
    let lib = ffi_library_dir();
    let out = tempfile::tempdir().unwrap();
    let source = out.path().join("errors.cpp");
    std::fs::write(&source, ASAN_PROGRAM).unwrap();
    let program = out.path().join("errors");
    compile_cpp(&source, &program, &lib, ASAN_FLAGS);
    let missing = out.path().join("no-daemon.sock");
    let started = Instant::now();
    let run = Command::new(&program)
        .arg(&missing)
        .env("DSPCONNECT_SOCKET", out.path().join("no-default.sock"))
        .env("XDG_RUNTIME_DIR", out.path())
        .env("ASAN_OPTIONS", ASAN_OPTIONS)
        .output()
        .expect("the ASan program runs");
    eprintln!("ASan error paths: {:.1} s", started.elapsed().as_secs_f64());
    let (stdout, stderr) = text(&run);
    assert!(run.status.success(), "{}:\n{stdout}\n{stderr}", run.status);
    assert!(!stderr.contains("ERROR: AddressSanitizer"), "{stderr}");
    assert!(!stderr.contains("ERROR: LeakSanitizer"), "{stderr}");
    assert!(stdout.contains("all error paths ok"), "{stdout}");
    assert!(stdout.contains("daemon not running: code 200"), "{stdout}");
}
