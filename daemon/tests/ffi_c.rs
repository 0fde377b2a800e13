//! libdspconnect as a C program uses it: examples/c/push.c compiled with
//! gcc against the shared library and include/dspconnect.h, run against the
//! real daemon and the sandbox.

mod daemon_support;

use std::path::PathBuf;
use std::process::Command;

use daemon_support::*;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_owned()
}

/// The directory holding libdspconnect.so (built with the workspace).
fn library_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"));
    let dir = target.join("debug");
    if !dir.join("libdspconnect.so").exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "-p", "dspconnect", "--lib"])
            .current_dir(workspace())
            .status()
            .expect("cargo runs");
        assert!(status.success(), "libdspconnect builds");
    }
    dir
}

#[test]
fn the_header_is_c99_and_cpp_clean() {
    for (compiler, args) in [
        ("gcc", ["-std=c99", "-x", "c"]),
        ("g++", ["-std=c++17", "-x", "c++"]),
    ] {
        let out = Command::new(compiler)
            .args(["-Wall", "-Wextra", "-Werror", "-pedantic", "-fsyntax-only"])
            .args(args)
            .arg(workspace().join("include/dspconnect.h"))
            .output()
            .unwrap_or_else(|e| panic!("{compiler} runs (Debian package {compiler}): {e}"));
        assert!(
            out.status.success(),
            "{compiler}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn the_c_example_pushes_a_report_through_the_library() {
    let lib = library_dir();
    let out = tempfile::tempdir().unwrap();
    let program = out.path().join("push");
    let compiled = Command::new("gcc")
        .arg("-std=c99")
        .arg("-Wall")
        .arg("-Werror")
        .arg(workspace().join("examples/c/push.c"))
        .arg("-I")
        .arg(workspace().join("include"))
        .arg("-L")
        .arg(&lib)
        .arg("-ldspconnect")
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .arg("-o")
        .arg(&program)
        .output()
        .expect("gcc runs (Debian package gcc)");
    assert!(
        compiled.status.success(),
        "gcc: {}",
        String::from_utf8_lossy(&compiled.stderr)
    );

    let sandbox = ExternalSandbox::start();
    let home = DaemonHome::new();
    let (card, pin) = sandbox.export_card("SBX1001", sandbox.dir.path());
    home.write_config(sandbox.profile(), |_| {});
    let daemon = Daemon::start(&home, &["--software-card", card.to_str().unwrap()]);
    let report = home.path("home").join("report.pdf");
    std::fs::write(&report, pdf(25_000, 7)).unwrap();

    let run = Command::new(&program)
        .arg(&daemon.socket)
        .arg(&pin)
        .arg("1945093006704")
        .arg(&report)
        .output()
        .expect("the example runs");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout}\n{}\n{}",
        String::from_utf8_lossy(&run.stderr),
        daemon.logs()
    );
    assert!(stdout.contains("sandbox=1"), "{stdout}");
    assert!(stdout.contains("(done)"), "{stdout}");
    assert!(stdout.contains("Lettre de sortie (C)"), "{stdout}");
    assert!(
        stdout.contains("bad matricule: code 300, field metadata.patient"),
        "{stdout}"
    );
}

#[test]
fn the_python_binding_pushes_a_report_through_the_library() {
    let lib = library_dir();
    let sandbox = ExternalSandbox::start();
    let home = DaemonHome::new();
    let (card, pin) = sandbox.export_card("SBX1001", sandbox.dir.path());
    home.write_config(sandbox.profile(), |_| {});
    let daemon = Daemon::start(&home, &["--software-card", card.to_str().unwrap()]);
    let report = home.path("home").join("compte-rendu.pdf");
    std::fs::write(&report, pdf(22_000, 8)).unwrap();
    let run = Command::new("python3")
        .arg(workspace().join("examples/python/push.py"))
        .arg(&daemon.socket)
        .arg(&pin)
        .arg("1945093006704")
        .arg(&report)
        .env("PYTHONPATH", workspace().join("bindings/python"))
        .env("DSPCONNECT_LIBRARY", lib.join("libdspconnect.so"))
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout}\n{}\n{}",
        String::from_utf8_lossy(&run.stderr),
        daemon.logs()
    );
    assert!(stdout.contains("sandbox=True"), "{stdout}");
    assert!(stdout.contains(": DONE"), "{stdout}");
    assert!(stdout.contains("Compte rendu (Python)"), "{stdout}");
    assert!(
        stdout.contains("refused: code 300 field metadata.patient"),
        "{stdout}"
    );
}

#[test]
fn the_pkg_config_file_gives_the_version_and_the_flags_to_build_with() {
    let lib = library_dir();
    let pkg = |args: &[&str]| {
        let out = Command::new("pkg-config")
            .env("PKG_CONFIG_PATH", workspace().join("include"))
            .arg(format!(
                "--define-variable=includedir={}",
                workspace().join("include").display()
            ))
            .arg(format!("--define-variable=libdir={}", lib.display()))
            .args(args)
            .arg("dspconnect")
            .output()
            .expect("pkg-config runs (Debian package pkg-config)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    assert_eq!(pkg(&["--modversion"]), env!("CARGO_PKG_VERSION"));
    let flags = pkg(&["--cflags", "--libs"]);
    let out = tempfile::tempdir().unwrap();
    let compiled = Command::new("gcc")
        .arg(workspace().join("examples/c/push.c"))
        .args(flags.split_whitespace())
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .arg("-o")
        .arg(out.path().join("push"))
        .output()
        .expect("gcc runs");
    assert!(
        compiled.status.success(),
        "gcc {flags}: {}",
        String::from_utf8_lossy(&compiled.stderr)
    );
}
