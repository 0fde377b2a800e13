//! The examples as their READMEs tell a newcomer to build and run them
//! (issue 6): for each of examples/{c,cpp,csharp,pascal,python}, the
//! commands of its README.md, run exactly as written from the root of a
//! clean checkout, against a real daemon on its embedded sandbox; what the
//! example did is then read back through `dspctl --json list`.
//!
//! The convention the READMEs follow, which this test relies on:
//!
//! - **Build**: the first ```` ```sh ```` block in the section of the
//!   first heading whose text contains `Build` (up to the next heading).
//!   It runs whole, with `bash -euo pipefail -c`, from the checkout's
//!   root: a failing line fails the test.
//! - **Run**: the first command (backslash continuations joined, blank
//!   and `#` lines skipped) of the first ```` ```sh ```` block in the
//!   section of the first heading whose text contains `Run`. It names the
//!   placeholders `SOCKET`, `PIN`, `PATIENT` and `FILE` (all four, as whole
//!   words), which the test replaces with the daemon's socket and the demo
//!   card's PIN (the `IPC socket:` and `card PIN:` lines of the daemon's
//!   banner), the sandbox's demo patient 1945093006704 and a PDF it wrote;
//!   nothing else is changed.
//!
//! Then the document the example printed the id of is read back through
//! `dspctl --json list`: listed once, Approved, with the example's title, size and
//! final mode, and, when the example changed the mode, its entry as pushed
//! deprecated. Each example pushes in mode Restreint, changes it to Normal
//! and prints the DSP URL (issue 6); `EXAMPLES` says so per language, so
//! that an example that stops doing it fails here.
//!
//! The clean checkout is the index of the workspace's git repository
//! (`git checkout-index --all` into a temporary folder): what is committed
//! plus what is staged. Unstaged edits and untracked files are absent —
//! `git add` a README to test a change of it. The build commands run with
//! `CARGO_TARGET_DIR` unset (so `cargo build -p dspconnect --lib` builds
//! into the checkout's own `target/`: one build of the dspconnect crate,
//! shared by the five languages, which run one after the other in the same
//! checkout) and `CARGO_INCREMENTAL=0`; `DSPCONNECT_LIBRARY`,
//! `DSPCONNECT_SOCKET`, `LD_LIBRARY_PATH` and `PYTHONPATH` are removed, so
//! that only what the README sets counts.
//!
//! `python3` in the Python README is the first of `$DSP_PYTHON`, `python3`
//! (PATH) and `/usr/bin/python3` that can install the package offline
//! (pip, setuptools 61 or later, `wheel` when setuptools is older than
//! 70.1), put first on PATH under that name. A language whose tools are
//! missing (gcc; g++; mcs and mono; fpc; such a Python) is skipped with a
//! message, unless `DSP_REQUIRE_TOOLS` is set, which makes it a failure.

mod daemon_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use daemon_support::*;
use dspconnect::ipc::protocol::{DocumentList, DocumentSummary};
use dspconnect::model::ConfidentialityMode;

const PATIENT: &str = "1945093006704";

/// What the test expects of one example once it ran.
struct Example {
    lang: &'static str,
    /// Tools (program, its version argument, the Debian package).
    tools: &'static [(&'static str, &'static str, &'static str)],
    /// The title the example gives the document.
    title: &'static str,
    /// The mode the example pushes in.
    pushed: ConfidentialityMode,
    /// The mode the document ends in.
    mode: ConfidentialityMode,
    /// Whether it prints `DSP URL: https://…`.
    prints_url: bool,
}

const EXAMPLES: &[Example] = &[
    Example {
        lang: "c",
        tools: &[("gcc", "--version", "gcc")],
        title: "Lettre de sortie (C)",
        pushed: ConfidentialityMode::Restreint,
        mode: ConfidentialityMode::Normal,
        prints_url: true,
    },
    Example {
        lang: "cpp",
        tools: &[("g++", "--version", "g++")],
        title: "Lettre de sortie (C++)",
        pushed: ConfidentialityMode::Restreint,
        mode: ConfidentialityMode::Normal,
        prints_url: true,
    },
    Example {
        lang: "csharp",
        tools: &[
            ("mcs", "--version", "mono-mcs"),
            ("mono", "--version", "mono-runtime"),
        ],
        title: "Lettre de sortie (C#)",
        pushed: ConfidentialityMode::Restreint,
        mode: ConfidentialityMode::Normal,
        prints_url: true,
    },
    Example {
        lang: "pascal",
        tools: &[("fpc", "-iV", "fp-compiler")],
        title: "Lettre de sortie (Pascal)",
        pushed: ConfidentialityMode::Restreint,
        mode: ConfidentialityMode::Normal,
        prints_url: true,
    },
    Example {
        lang: "python",
        tools: &[],
        title: "Compte rendu (Python)",
        pushed: ConfidentialityMode::Restreint,
        mode: ConfidentialityMode::Normal,
        prints_url: true,
    },
];

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_owned()
}

/// A tool missing: skipped (false, with a message) unless
/// DSP_REQUIRE_TOOLS is set, when the test fails.
fn missing(lang: &str, what: &str) -> bool {
    assert!(
        std::env::var_os("DSP_REQUIRE_TOOLS").is_none(),
        "examples/{lang}: {what} (DSP_REQUIRE_TOOLS is set)"
    );
    eprintln!("SKIPPED examples/{lang}: {what}; set DSP_REQUIRE_TOOLS=1 to make this a failure");
    false
}

fn have_tools(example: &Example) -> bool {
    for (tool, version_arg, package) in example.tools {
        let runs = Command::new(tool)
            .arg(version_arg)
            .output()
            .is_ok_and(|o| o.status.success());
        if !runs {
            return missing(
                example.lang,
                &format!("{tool} does not run (Debian package {package})"),
            );
        }
    }
    true
}

/// Prints the interpreter's path when it can install bindings/python
/// offline; says why not and exits 1 otherwise.
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
    print(f"setuptools {setuptools.__version__} is older than 61"); sys.exit(1)
if v < (70, 1) and importlib.util.find_spec("wheel") is None:
    print(f"setuptools {setuptools.__version__} needs the wheel package (Debian: python3-wheel)")
    sys.exit(1)
print(sys.executable)
"#;

/// The Python that can install the package (see the module doc), or why
/// none can.
fn python() -> Result<PathBuf, String> {
    let candidates: Vec<PathBuf> = match std::env::var_os("DSP_PYTHON") {
        Some(p) => vec![p.into()],
        None => vec!["python3".into(), "/usr/bin/python3".into()],
    };
    let mut refusals = Vec::new();
    for candidate in candidates {
        match Command::new(&candidate).arg("-c").arg(CAN_BUILD).output() {
            Ok(out) if out.status.success() => {
                let exe = String::from_utf8_lossy(&out.stdout).trim().to_owned();
                return Ok(PathBuf::from(exe));
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
    Err(format!(
        "no Python can install bindings/python offline ({}); install Debian's \
         python3-pip python3-setuptools python3-wheel or set DSP_PYTHON",
        refusals.join("; ")
    ))
}

/// A README's ```sh blocks, each with the heading it is under.
fn sh_blocks(readme: &str) -> Vec<(String, String)> {
    let mut blocks = Vec::new();
    let mut heading = String::new();
    let mut fence: Option<(bool, String)> = None; // (is sh, body)
    for line in readme.lines() {
        match &mut fence {
            Some((is_sh, body)) => {
                if line.trim_start().starts_with("```") {
                    if *is_sh {
                        blocks.push((heading.clone(), std::mem::take(body)));
                    }
                    fence = None;
                } else {
                    body.push_str(line);
                    body.push('\n');
                }
            }
            None => {
                if let Some(info) = line.trim_start().strip_prefix("```") {
                    fence = Some((info.trim() == "sh", String::new()));
                } else if line.starts_with('#') {
                    heading = line.trim_start_matches('#').trim().to_owned();
                }
            }
        }
    }
    blocks
}

/// The first ```sh block under the first heading containing `word` — the
/// block must be in that heading's own section.
fn section_block(readme: &str, word: &str) -> Result<String, String> {
    let first_heading = readme
        .lines()
        .scan(false, |in_fence, line| {
            if line.trim_start().starts_with("```") {
                *in_fence = !*in_fence;
                return Some(None);
            }
            Some((!*in_fence && line.starts_with('#')).then_some(line))
        })
        .flatten()
        .map(|l| l.trim_start_matches('#').trim().to_owned())
        .find(|h| h.contains(word))
        .ok_or_else(|| format!("no heading containing {word:?}"))?;
    sh_blocks(readme)
        .into_iter()
        .find(|(heading, _)| *heading == first_heading)
        .map(|(_, body)| body)
        .ok_or_else(|| format!("no ```sh block under the heading {first_heading:?}"))
}

/// The first command of a shell block: continuations joined, blank and
/// comment lines skipped.
fn first_command(block: &str) -> Option<String> {
    let mut command = String::new();
    for line in block.lines() {
        if command.is_empty() && (line.trim().is_empty() || line.trim_start().starts_with('#')) {
            continue;
        }
        match line.trim_end().strip_suffix('\\') {
            Some(part) => {
                command.push_str(part);
                command.push(' ');
            }
            None => {
                command.push_str(line.trim_end());
                return Some(command);
            }
        }
    }
    None
}

/// `command` with each placeholder, a whole word, replaced by its value
/// (single-quoted for the shell), in one pass; an error when one does not
/// occur.
fn substitute(command: &str, values: &[(&str, &str)]) -> Result<String, String> {
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = String::new();
    let mut used = vec![false; values.len()];
    let mut previous: Option<char> = None;
    let mut rest = command;
    'scan: while let Some(c) = rest.chars().next() {
        if !previous.is_some_and(is_word) {
            for (i, (placeholder, value)) in values.iter().enumerate() {
                if let Some(after) = rest.strip_prefix(placeholder)
                    && !after.chars().next().is_some_and(is_word)
                {
                    if value.contains('\'') {
                        return Err(format!("{value:?} cannot be single-quoted"));
                    }
                    out.push_str(&format!("'{value}'"));
                    used[i] = true;
                    previous = placeholder.chars().next_back();
                    rest = after;
                    continue 'scan;
                }
            }
        }
        out.push(c);
        previous = Some(c);
        rest = &rest[c.len_utf8()..];
    }
    match values.iter().zip(&used).find(|(_, used)| !**used) {
        Some(((placeholder, _), _)) => Err(format!("the command does not name {placeholder}")),
        None => Ok(out),
    }
}

/// The workspace's index written out into `into` (see the module doc).
fn clean_checkout(into: &Path) {
    let workspace = workspace();
    let out = Command::new("git")
        .arg("-C")
        .arg(&workspace)
        .args(["checkout-index", "--all", "--prefix"])
        .arg(format!("{}/", into.display()))
        .output()
        .expect("git runs (Debian package git)");
    assert!(
        out.status.success(),
        "git checkout-index of {} (the workspace must be a git checkout): {}",
        workspace.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        into.join("Cargo.toml").is_file() && into.join("include/dspconnect.h").is_file(),
        "the checkout in {} lacks the workspace's files",
        into.display()
    );
}

/// `bash -euo pipefail -c script` from `root`, ended after `limit`.
fn bash(root: &Path, script: &str, path: &std::ffi::OsStr, limit: Duration) -> Output {
    Command::new("timeout")
        .arg("--kill-after=10")
        .arg(limit.as_secs().to_string())
        .args(["bash", "-euo", "pipefail", "-c", script])
        .current_dir(root)
        .env("PATH", path)
        .env("CARGO_INCREMENTAL", "0")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET_DIR")
        .env_remove("DSPCONNECT_LIBRARY")
        .env_remove("DSPCONNECT_SOCKET")
        .env_remove("LD_LIBRARY_PATH")
        .env_remove("PYTHONPATH")
        .env("PIP_NO_INPUT", "1")
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        .output()
        .expect("timeout and bash run")
}

fn show(out: &Output) -> String {
    format!(
        "{}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The document id an example printed: `queued job J, document D` (C, C++,
/// C#, Pascal) or `uniqueId D` (Python).
fn printed_unique_id(stdout: &str) -> Option<String> {
    stdout.lines().find_map(|l| {
        l.strip_prefix("queued job ")
            .and_then(|rest| rest.split(", document ").nth(1))
            .or_else(|| l.strip_prefix("uniqueId "))
            .map(|id| id.trim().to_owned())
    })
}

/// The patient's current (Approved) documents, as the daemon lists them; a
/// mode change deprecates the entry it replaces, under the same uniqueId.
/// The patient's documents as `dspctl --json list` shows them (the issue's
/// "as read back through `dspctl --json`").
fn listed(daemon: &Daemon, include_deprecated: bool) -> Vec<DocumentSummary> {
    let mut dspctl = Command::new(env!("CARGO_BIN_EXE_dspctl"));
    dspctl
        .arg("--socket")
        .arg(&daemon.socket)
        .args(["--json", "list", PATIENT]);
    if include_deprecated {
        dspctl.arg("--include-deprecated");
    }
    let out = dspctl.output().expect("dspctl runs");
    assert!(
        out.status.success(),
        "dspctl --json list: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<DocumentList>(&out.stdout)
        .unwrap_or_else(|e| {
            panic!(
                "dspctl --json list is not a document list ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
        .documents
}

#[test]
fn the_readmes_parse_by_their_convention() {
    for example in EXAMPLES {
        let file = workspace()
            .join("examples")
            .join(example.lang)
            .join("README.md");
        let readme =
            std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let build =
            section_block(&readme, "Build").unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert!(
            build.contains("cargo build -p dspconnect --lib"),
            "{}: the build builds the library: {build}",
            file.display()
        );
        let run =
            section_block(&readme, "Run").unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let command = first_command(&run)
            .unwrap_or_else(|| panic!("{}: no command under Run", file.display()));
        substitute(
            &command,
            &[
                ("SOCKET", "s"),
                ("PIN", "p"),
                ("PATIENT", "x"),
                ("FILE", "f"),
            ],
        )
        .unwrap_or_else(|e| panic!("{}: {e}: {command}", file.display()));
    }

    // The convention's edges: a block under another heading, a missing
    // placeholder, a placeholder inside a longer word.
    let readme =
        "# X\n\n## Build\n\ntext\n\n## Run\n\n```sh\n# comment\n./a \\\n  SOCKET PIN\n./b\n```\n";
    assert!(section_block(readme, "Build").is_err());
    let run = section_block(readme, "Run").unwrap();
    assert_eq!(first_command(&run).as_deref(), Some("./a    SOCKET PIN"));
    assert!(substitute("./a SOCKET PIN", &[("PATIENT", "x")]).is_err());
    assert_eq!(
        substitute("DSPCONNECT_SOCKET=1 ./a SOCKET", &[("SOCKET", "/s")]).unwrap(),
        "DSPCONNECT_SOCKET=1 ./a '/s'"
    );
}

/// The five READMEs, built and run as written (see the module doc).
#[test]
fn each_example_builds_and_runs_from_a_clean_checkout_as_its_readme_says() {
    let started = Instant::now();
    let work = tempfile::tempdir().expect("work folder");
    let checkout = work.path().join("checkout");
    clean_checkout(&checkout);
    eprintln!(
        "clean checkout in {}: {:.1} s",
        checkout.display(),
        started.elapsed().as_secs_f64()
    );

    // `python3` of the README: the Python that can install the package.
    let shims = work.path().join("bin");
    std::fs::create_dir_all(&shims).expect("shim folder");
    let python = python();
    if let Ok(python) = &python {
        std::os::unix::fs::symlink(python, shims.join("python3")).expect("python3 shim");
    }
    // The tools first: with DSP_REQUIRE_TOOLS, a missing one fails at once.
    let usable: Vec<&Example> = EXAMPLES
        .iter()
        .filter(|example| match (example.lang, &python) {
            ("python", Ok(_)) => true,
            ("python", Err(why)) => missing("python", why),
            _ => have_tools(example),
        })
        .collect();
    if usable.is_empty() {
        return;
    }
    let mut path = std::ffi::OsString::from(&shims);
    path.push(":");
    path.push(std::env::var_os("PATH").unwrap_or_default());

    let home = DaemonHome::new();
    let daemon = Daemon::start(&home, &[]);
    let banner = std::fs::read_to_string(&daemon.stdout).expect("the daemon's banner");
    // SOCKET and PIN as the daemon prints them for its user.
    let banner_value = |label: &str| -> String {
        banner
            .lines()
            .find_map(|l| l.trim().strip_prefix(label))
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no `{label}` in the daemon's banner:\n{banner}"))
            .to_owned()
    };
    let pin = banner_value("card PIN:");
    let socket = banner_value("IPC socket:");
    assert_eq!(Path::new(&socket), daemon.socket, "{banner}");

    let mut ran = Vec::new();
    for (n, example) in usable.into_iter().enumerate() {
        let lang = example.lang;
        let file = checkout.join("examples").join(lang).join("README.md");
        let readme =
            std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));

        let build = section_block(&readme, "Build")
            .unwrap_or_else(|e| panic!("examples/{lang}/README.md: {e}"));
        let step = Instant::now();
        let out = bash(&checkout, &build, &path, Duration::from_secs(1200));
        assert!(
            out.status.success(),
            "examples/{lang}/README.md: the build commands failed in a clean checkout:\n{build}\n{}",
            show(&out)
        );
        eprintln!(
            "examples/{lang}: build {:.1} s",
            step.elapsed().as_secs_f64()
        );

        let report = home.path("home").join(format!("report-{lang}.pdf"));
        let content = pdf(20_000 + 1_000 * n, 40 + n as u8);
        std::fs::write(&report, &content).expect("report written");
        let run = section_block(&readme, "Run")
            .unwrap_or_else(|e| panic!("examples/{lang}/README.md: {e}"));
        let command = first_command(&run)
            .unwrap_or_else(|| panic!("examples/{lang}/README.md: no command under Run"));
        let command = substitute(
            &command,
            &[
                ("SOCKET", &socket),
                ("PIN", &pin),
                ("PATIENT", PATIENT),
                ("FILE", report.to_str().expect("a UTF-8 report path")),
            ],
        )
        .unwrap_or_else(|e| panic!("examples/{lang}/README.md: {e}: {command}"));
        let step = Instant::now();
        let out = bash(&checkout, &command, &path, Duration::from_secs(300));
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let context = format!("{command}\n{}\ndaemon:\n{}", show(&out), daemon.logs());
        assert!(
            out.status.success(),
            "examples/{lang}/README.md: the run command failed: {context}"
        );
        eprintln!("examples/{lang}: run {:.1} s", step.elapsed().as_secs_f64());

        let unique_id = printed_unique_id(&stdout)
            .unwrap_or_else(|| panic!("examples/{lang} printed no document id: {context}"));
        let docs = listed(&daemon, false);
        let current: Vec<_> = docs.iter().filter(|d| d.unique_id == unique_id).collect();
        let [doc] = current[..] else {
            panic!("examples/{lang}: {unique_id} is not listed once: {docs:#?}\n{context}");
        };
        assert_eq!(doc.title, example.title, "{doc:?}");
        assert_eq!(doc.mode, example.mode, "examples/{lang}: {doc:?}");
        if example.pushed != example.mode {
            // The entry as pushed, deprecated by the mode change.
            let all = listed(&daemon, true);
            assert!(
                all.iter().any(|d| d.unique_id == unique_id
                    && d.status == "Deprecated"
                    && d.mode == example.pushed),
                "examples/{lang}: no deprecated {:?} entry of {unique_id}: {all:#?}",
                example.pushed
            );
        }
        assert_eq!(doc.status, "Approved", "{doc:?}");
        assert_eq!(doc.patient, PATIENT, "{doc:?}");
        assert_eq!(doc.size, content.len() as u64, "{doc:?}");
        if example.prints_url {
            assert!(
                stdout.lines().any(|l| l.starts_with("DSP URL: https://")),
                "examples/{lang} prints the DSP URL of the embedded sandbox: {context}"
            );
        }
        ran.push(lang);
    }
    eprintln!(
        "examples run from their READMEs: {ran:?}, {:.1} s in all",
        started.elapsed().as_secs_f64()
    );
}
