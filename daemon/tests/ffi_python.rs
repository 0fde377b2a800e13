//! The Python binding as a newcomer installs it: `python3 -m pip install
//! --no-deps --no-build-isolation --target <tmp> bindings/python` (offline,
//! with the Python's own setuptools), then the examples run from
//! `PYTHONPATH=<tmp>` — never from the source tree — against a real daemon
//! and the sandbox; what they did is checked through the daemon's IPC.
//!
//! The interpreter is `$DSP_PYTHON` when set, else the first of `python3`
//! (PATH) and `/usr/bin/python3` (Debian's) that can build the package:
//! setuptools 61 or later (PEP 621), and the `wheel` package when
//! setuptools is older than 70.1. None of them: the test fails and says
//! what to install.

mod daemon_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use daemon_support::*;
use dspconnect::ipc::protocol::*;
use dspconnect::model::ConfidentialityMode;
use tempfile::TempDir;

const PATIENT: &str = "1945093006704";

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_owned()
}

/// What a Python needs to build the package offline; prints why not and
/// exits 1 when it cannot.
const CAN_BUILD: &str = r#"
import importlib.util, sys
try:
    import setuptools
except ImportError:
    print("no setuptools (Debian: python3-setuptools)"); sys.exit(1)
if importlib.util.find_spec("pip") is None:
    print("no pip (Debian: python3-pip)"); sys.exit(1)
v = tuple(int(x) for x in setuptools.__version__.split(".")[:2] if x.isdigit())
if v < (61, 0):
    print(f"setuptools {setuptools.__version__} is older than 61 (no PEP 621)"); sys.exit(1)
if v < (70, 1) and importlib.util.find_spec("wheel") is None:
    print(f"setuptools {setuptools.__version__} builds wheels only with the wheel package, "
          "which is missing (Debian: python3-wheel)"); sys.exit(1)
print(f"{sys.executable} {sys.version.split()[0]}, setuptools {setuptools.__version__}")
"#;

/// The interpreter that installs and runs the package (see the module doc).
fn python() -> PathBuf {
    let explicit = std::env::var_os("DSP_PYTHON").map(PathBuf::from);
    let candidates: Vec<PathBuf> = match &explicit {
        Some(p) => vec![p.clone()],
        None => vec!["python3".into(), "/usr/bin/python3".into()],
    };
    let mut refusals = Vec::new();
    for candidate in candidates {
        match Command::new(&candidate).arg("-c").arg(CAN_BUILD).output() {
            Ok(out) if out.status.success() => {
                eprintln!(
                    "Python for the binding: {}",
                    String::from_utf8_lossy(&out.stdout).trim()
                );
                return candidate;
            }
            Ok(out) => refusals.push(format!(
                "{}: {}{}",
                candidate.display(),
                String::from_utf8_lossy(&out.stdout).trim(),
                String::from_utf8_lossy(&out.stderr).trim()
            )),
            Err(e) => refusals.push(format!("{}: does not run ({e})", candidate.display())),
        }
    }
    panic!(
        "no Python here can install bindings/python offline (pip install --no-build-isolation):\n  {}\n\
         install Debian's python3-pip python3-setuptools python3-wheel (for /usr/bin/python3), \
         or `python3 -m pip install 'setuptools>=61' wheel`, or set DSP_PYTHON to a Python that has them",
        refusals.join("\n  ")
    )
}

/// The package installed into a folder of its own.
struct Installed {
    python: PathBuf,
    /// `--target` of the install: what PYTHONPATH names.
    site: TempDir,
}

impl Installed {
    /// `pip install --no-deps --no-build-isolation --target` of a copy of
    /// bindings/python (pip builds in the source folder: a copy keeps the
    /// checkout clean and lets tests install side by side).
    fn new() -> Installed {
        let python = python();
        let site = tempfile::tempdir().expect("site folder");
        let source = tempfile::tempdir().expect("source copy");
        let copy = source.path().join("python");
        copy_tree(&workspace().join("bindings/python"), &copy);
        let out = Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--no-deps",
                "--no-build-isolation",
                "--no-index",
                "--disable-pip-version-check",
                "--target",
            ])
            .arg(site.path())
            .arg(&copy)
            .env("PIP_NO_INPUT", "1")
            .output()
            .expect("python3 -m pip runs");
        assert!(
            out.status.success(),
            "pip install of bindings/python failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Installed { python, site }
    }

    /// `python` with the installed package on PYTHONPATH, the library in
    /// DSPCONNECT_LIBRARY, run from a folder without the package in it.
    fn command(&self) -> Command {
        let mut c = Command::new(&self.python);
        c.env("PYTHONPATH", self.site.path())
            .env(
                "DSPCONNECT_LIBRARY",
                ffi_library_dir().join("libdspconnect.so"),
            )
            .env_remove("LD_LIBRARY_PATH")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .current_dir(self.site.path());
        c
    }

    fn example(&self, name: &str, args: &[&std::ffi::OsStr], daemon: &Daemon) -> String {
        let run = self
            .command()
            .arg(workspace().join("examples/python").join(name))
            .args(args)
            .output()
            .expect("python runs");
        succeeded(&format!("examples/python/{name}"), &run, daemon)
    }
}

fn succeeded(what: &str, run: &Output, daemon: &Daemon) -> String {
    let stdout = String::from_utf8_lossy(&run.stdout).into_owned();
    assert!(
        run.status.success(),
        "{what}: {}\n{stdout}\n{}\n{}",
        run.status,
        String::from_utf8_lossy(&run.stderr),
        daemon.logs()
    );
    stdout
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("folder");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let name = entry.file_name();
        // What an earlier pip run by hand may have left in the checkout.
        if name == "build" || name == "__pycache__" || name.to_string_lossy().ends_with(".egg-info")
        {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            copy_tree(&path, &to.join(&name));
        } else {
            std::fs::copy(&path, to.join(&name)).expect("copy");
        }
    }
}

/// The word after `prefix` on the line that starts with it.
fn word_after<'a>(stdout: &'a str, prefix: &str) -> &'a str {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(prefix))
        .and_then(|rest| rest.split([' ', ':']).next())
        .unwrap_or_else(|| panic!("no line starting with {prefix:?} in:\n{stdout}"))
}

/// Every document of the patient, deprecated ones too, as the daemon lists them.
fn listed(daemon: &Daemon) -> Vec<DocumentSummary> {
    daemon
        .client()
        .call::<List>(&ListParams {
            patient: PATIENT.to_owned(),
            include_deprecated: true,
            ..ListParams::default()
        })
        .expect("document.list")
        .documents
}

fn find<'a>(docs: &'a [DocumentSummary], unique_id: &str) -> &'a DocumentSummary {
    docs.iter()
        .find(|d| d.unique_id == unique_id)
        .unwrap_or_else(|| panic!("{unique_id} is not registered: {docs:#?}"))
}

/// A daemon with SBX1001's card, on a sandbox of the test's own.
fn daemon_with_card(ehealth_id: &str) -> (ExternalSandbox, DaemonHome, Daemon, String) {
    let sandbox = ExternalSandbox::start();
    let home = DaemonHome::new();
    let (card, pin) = sandbox.export_card(ehealth_id, sandbox.dir.path());
    home.write_config(sandbox.profile(), |_| {});
    let daemon = Daemon::start(&home, &["--software-card", card.to_str().expect("UTF-8")]);
    (sandbox, home, daemon, pin)
}

/// The install: the package and its py.typed marker, the workspace's
/// version, imported from the install (not the checkout); the library
/// found in $DSPCONNECT_LIBRARY, else next to the package, else by the
/// system loader, and an import error that says where it looked.
#[test]
fn the_package_installs_offline_and_finds_the_library_in_its_documented_order() {
    let installed = Installed::new();
    let site = installed.site.path();
    assert!(site.join("dspconnect/__init__.py").is_file());
    assert!(
        site.join("dspconnect/py.typed").is_file(),
        "the package ships py.typed"
    );
    let dist_info = site.join(format!(
        "dspconnect-{}.dist-info",
        env!("CARGO_PKG_VERSION")
    ));
    let metadata = std::fs::read_to_string(dist_info.join("METADATA"))
        .unwrap_or_else(|e| panic!("{}: {e}", dist_info.display()));
    assert!(
        metadata.contains(&format!("\nVersion: {}\n", env!("CARGO_PKG_VERSION"))),
        "pyproject.toml's version is the workspace's: {metadata}"
    );
    assert!(metadata.contains("Typing :: Typed"), "{metadata}");

    let lib = ffi_library_dir().join("libdspconnect.so");
    let probe = "import dspconnect; print(dspconnect.__file__); \
                 print(dspconnect.library_path()); print(dspconnect.version())";
    let run = |edit: &dyn Fn(&mut Command)| {
        let mut c = installed.command();
        c.arg("-c").arg(probe);
        edit(&mut c);
        c.output().expect("python runs")
    };
    let lines = |out: &Output| -> Vec<String> {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    };
    let import_error = |out: &Output| -> String {
        assert!(!out.status.success(), "the import must fail");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        stderr.lines().last().unwrap_or_default().to_owned()
    };

    // 1. $DSPCONNECT_LIBRARY.
    let by_env = lines(&run(&|_| {}));
    assert_eq!(
        Path::new(&by_env[0]),
        site.join("dspconnect/__init__.py"),
        "imported from the install"
    );
    assert_eq!(Path::new(&by_env[1]), lib);
    assert_eq!(by_env[2], env!("CARGO_PKG_VERSION"));

    // 3. The system loader (nothing next to the package yet).
    let by_loader = lines(&run(&|c| {
        c.env_remove("DSPCONNECT_LIBRARY")
            .env("LD_LIBRARY_PATH", ffi_library_dir());
    }));
    assert_eq!(by_loader[1], "libdspconnect.so");
    assert_eq!(by_loader[2], env!("CARGO_PKG_VERSION"));

    // Nowhere: an error naming the variable, the folder and the loader.
    let nowhere = import_error(&run(&|c| {
        c.env_remove("DSPCONNECT_LIBRARY");
    }));
    assert!(
        nowhere.starts_with("OSError: dspconnect: libdspconnect not found: $DSPCONNECT_LIBRARY is not set, there is no ")
            && nowhere.contains(&site.join("dspconnect/libdspconnect.so").display().to_string())
            && nowhere.contains("the system loader did not find libdspconnect.so"),
        "{nowhere}"
    );

    // 2. Next to the package, before the system loader.
    let beside = site.join("dspconnect/libdspconnect.so");
    std::fs::copy(&lib, &beside).expect("library copied next to the package");
    let by_folder = lines(&run(&|c| {
        c.env_remove("DSPCONNECT_LIBRARY")
            .env("LD_LIBRARY_PATH", ffi_library_dir());
    }));
    assert_eq!(Path::new(&by_folder[1]), beside);

    // The variable wins over the copy; a wrong one is an error, not a fallback.
    let by_env = lines(&run(&|_| {}));
    assert_eq!(Path::new(&by_env[1]), lib);
    let missing = site.join("no-such-lib.so");
    let wrong = import_error(&run(&|c| {
        c.env("DSPCONNECT_LIBRARY", &missing);
    }));
    assert!(
        wrong.starts_with(&format!(
            "OSError: dspconnect: cannot load libdspconnect from $DSPCONNECT_LIBRARY='{}'",
            missing.display()
        )),
        "{wrong}"
    );
}

/// Every function of the C header is declared (`_sig("dsp_…"`) in the
/// binding: a new export without its Python declaration fails here.
#[test]
fn the_binding_declares_every_export_of_the_header() {
    let header = std::fs::read_to_string(workspace().join("include/dspconnect.h")).unwrap();
    let binding =
        std::fs::read_to_string(workspace().join("bindings/python/dspconnect/__init__.py"))
            .unwrap();
    let mut exports = Vec::new();
    for line in header.lines() {
        // "dsp_error *dsp_push_file(const …" / "void dsp_string_free(char *s);"
        if line.starts_with(' ') || line.starts_with("//") || line.starts_with('#') {
            continue;
        }
        if let Some(open) = line.find('(') {
            let name = line[..open].rsplit([' ', '*']).next().unwrap_or_default();
            if name.starts_with("dsp_") {
                exports.push(name.to_owned());
            }
        }
    }
    assert!(exports.len() > 30, "exports found: {exports:?}");
    let missing: Vec<_> = exports
        .iter()
        .filter(|name| !binding.contains(&format!("_sig(\"{name}\"")))
        .collect();
    assert!(
        missing.is_empty(),
        "bindings/python/dspconnect/__init__.py does not declare: {missing:?}"
    );
}

/// examples/python/push.py from the installed package: unlock, push,
/// events, job status, read back, HPD, an error's code and field, the mode
/// changed to Normal, the DSP URL; the daemon lists the document as
/// registered by SBX1001, its Restreint entry deprecated.
#[test]
fn the_installed_package_pushes_a_report_through_the_library() {
    let installed = Installed::new();
    let (_sandbox, home, daemon, pin) = daemon_with_card("SBX1001");
    let report = home.path("home").join("compte-rendu.pdf");
    let content = pdf(22_000, 8);
    std::fs::write(&report, &content).unwrap();
    let stdout = installed.example(
        "push.py",
        &[
            daemon.socket.as_os_str(),
            pin.as_ref(),
            PATIENT.as_ref(),
            report.as_os_str(),
        ],
        &daemon,
    );
    assert!(stdout.contains("sandbox=True"), "{stdout}");
    assert!(stdout.contains(": DONE"), "{stdout}");
    assert!(stdout.contains("Compte rendu (Python)"), "{stdout}");
    assert!(stdout.contains("job status DONE, "), "{stdout}");
    assert!(
        stdout.contains(" bytes, application/pdf, identical"),
        "{stdout}"
    );
    assert!(stdout.contains("hpd: SBX1002 "), "{stdout}");
    assert!(stdout.contains("events by callback: "), "{stdout}");
    assert!(
        !stdout.contains("events by callback: 0 job, 0 session"),
        "the callback received events: {stdout}"
    );
    assert!(
        stdout.contains("refused: code 300 field metadata.patient"),
        "{stdout}"
    );

    assert!(stdout.contains("mode now NORMAL"), "{stdout}");
    assert!(stdout.contains("DSP URL: https://"), "{stdout}");

    // Pushed Restreint, then Normal: the Restreint entry is deprecated.
    let unique_id = word_after(&stdout, "uniqueId ");
    let docs = listed(&daemon);
    let entries: Vec<&DocumentSummary> = docs.iter().filter(|d| d.unique_id == unique_id).collect();
    assert!(
        entries
            .iter()
            .any(|d| d.mode == ConfidentialityMode::Restreint && d.status == "Deprecated"),
        "{entries:#?}"
    );
    let doc = entries
        .iter()
        .find(|d| d.status == "Approved")
        .unwrap_or_else(|| panic!("no current entry: {entries:#?}"));
    assert_eq!(doc.title, "Compte rendu (Python)");
    assert_eq!(doc.mode, ConfidentialityMode::Normal);
    assert_eq!(doc.size, content.len() as u64);
    assert_eq!(doc.mime_type, "application/pdf");
    assert_eq!(doc.author.ehealth_id, "SBX1001");
}

/// examples/python/replace.py: a document replaced by a file, that one by
/// bytes; the binding lists only the last, which reads back as sent; the
/// daemon lists the first two as Deprecated and the last as Approved with
/// its own title and mode.
#[test]
fn the_installed_package_replaces_a_document() {
    let installed = Installed::new();
    let (_sandbox, home, daemon, pin) = daemon_with_card("SBX1001");
    let report = home.path("home").join("ordonnance.pdf");
    std::fs::write(&report, pdf(18_000, 3)).unwrap();
    let stdout = installed.example(
        "replace.py",
        &[
            daemon.socket.as_os_str(),
            pin.as_ref(),
            PATIENT.as_ref(),
            report.as_os_str(),
        ],
        &daemon,
    );
    let original = word_after(&stdout, "original ");
    let replacement = word_after(&stdout, "replacement ");
    let last = word_after(&stdout, "final ");
    assert!(
        stdout.contains(&format!("original {original}: DONE")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("replacement {replacement} of {original}: DONE")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("final {last} of {replacement}: DONE")),
        "{stdout}"
    );
    assert!(stdout.contains("listed original: no\n"), "{stdout}");
    assert!(stdout.contains("listed replacement: no\n"), "{stdout}");
    assert!(stdout.contains("listed final: yes\n"), "{stdout}");
    assert!(
        stdout.contains("final: Ordonnance (Python) v3, RESTREINT, deprecated False"),
        "{stdout}"
    );
    assert!(
        stdout.contains("final read back: ") && stdout.contains(", application/pdf, identical"),
        "{stdout}"
    );
    assert!(
        // Queued, then refused by the platform: DSP_E_UNKNOWN_DOCUMENT.
        stdout.contains("replacing an unknown document: FAILED (error 314)\n"),
        "{stdout}"
    );

    let docs = listed(&daemon);
    let first = find(&docs, original);
    assert_eq!(first.status, "Deprecated", "{first:?}");
    assert_eq!(first.title, "Ordonnance (Python)");
    assert_eq!(first.mode, ConfidentialityMode::Normal);
    let second = find(&docs, replacement);
    assert_eq!(second.status, "Deprecated", "{second:?}");
    assert_eq!(second.mode, ConfidentialityMode::Restreint);
    let third = find(&docs, last);
    assert_eq!(third.status, "Approved", "{third:?}");
    assert_eq!(third.title, "Ordonnance (Python) v3");
    assert_eq!(third.mode, ConfidentialityMode::Restreint);
    assert_eq!(third.author.ehealth_id, "SBX1001");
}

/// examples/python/account.py: the pending professional activates the
/// account with the card and the letter (the e-mailed code read from the
/// sandbox's mail outbox in between), opens a password session, changes
/// the password; wrong inputs answer their codes. The daemon's session is
/// a password one afterwards.
#[test]
fn the_installed_package_activates_an_account_and_changes_the_password() {
    let installed = Installed::new();
    let (sandbox, _home, daemon, pin) = daemon_with_card("SBX1005");
    let letter = sandbox
        .activation_letter
        .clone()
        .expect("the demo letter's code at first start");
    let matricule = sandbox
        .store()
        .professional(&dspconnect_sandbox::policy::EHealthId::new("SBX1005").unwrap())
        .unwrap()
        .expect("SBX1005 in the HPD")
        .matricule
        .to_string();
    let email = "dr.pending@example.lu";
    fn os(s: &str) -> &std::ffi::OsStr {
        std::ffi::OsStr::new(s)
    }

    let stdout = installed.example(
        "account.py",
        &[
            daemon.socket.as_os_str(),
            os(&pin),
            os("activate"),
            os(&letter),
            os(&matricule),
            os(email),
        ],
        &daemon,
    );
    assert!(
        stdout.contains("unlock before activation: code 502"),
        "{stdout}"
    );
    assert!(stdout.contains("wrong letter code: code 509"), "{stdout}");
    assert!(stdout.contains("activation code sent to "), "{stdout}");

    let email_code = sandbox.mailed_code(email);
    let stdout = installed.example(
        "account.py",
        &[
            daemon.socket.as_os_str(),
            os(&pin),
            os("confirm"),
            os(&letter),
            os(&matricule),
            os(&email_code),
            os("Neues-Passwort-2026"),
            os("Noch-ein-Passwort-2027"),
        ],
        &daemon,
    );
    assert!(stdout.contains("activated SBX1005\n"), "{stdout}");
    assert!(
        stdout.contains("password session: PASSWORD (9)"),
        "{stdout}"
    );
    assert!(stdout.contains("status: PASSWORD\n"), "{stdout}");
    assert!(
        stdout.contains("documents in a password session: code 412"),
        "{stdout}"
    );
    assert!(stdout.contains("weak password: code 311"), "{stdout}");
    assert!(stdout.contains("password changed"), "{stdout}");
    assert!(stdout.contains("old password: code "), "{stdout}");
    assert!(
        stdout.contains("new password session: PASSWORD"),
        "{stdout}"
    );

    let status = daemon
        .client()
        .call::<StatusMethod>(&Empty {})
        .expect("status");
    assert_eq!(status.session.state, SessionState::Password, "{status:?}");
    // The new password is the platform's now: it opens a session over IPC.
    let old = daemon.client().call::<PasswordLogin>(&PasswordLoginParams {
        matricule: matricule.clone(),
        password: SecretString::new("Neues-Passwort-2026"),
    });
    assert!(old.is_err(), "the old password still works: {old:?}");
}
