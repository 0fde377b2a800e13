//! `docs/ipc.md` stays true to the protocol types: its error table is the
//! code list, every method has a section, and every example in a method's
//! section deserializes into that method's parameter and result types.

mod common;

use dspconnect::ErrorCode;
use dspconnect::ipc::protocol::*;
use dspconnectd::ipc_server::decode_params;
use serde_json::Value;

fn doc() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/ipc.md");
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

fn expected_error_table() -> String {
    let mut table =
        String::from("| `data.code` | `data.name` | `error.code` | meaning |\n|---|---|---|---|\n");
    for &code in ErrorCode::ALL {
        let wire = RpcError::new(code, "").code;
        table.push_str(&format!(
            "| {} | `{}` | {} | {} |\n",
            code.number(),
            code.name(),
            wire,
            code.description()
        ));
    }
    table
}

#[test]
fn the_error_table_is_the_code_list() {
    let doc = doc();
    let begin = "<!-- error-codes:begin -->\n";
    let end = "<!-- error-codes:end -->";
    let start = doc.find(begin).expect("no error-codes:begin marker") + begin.len();
    let stop = doc.find(end).expect("no error-codes:end marker");
    let expected = expected_error_table();
    assert!(
        doc[start..stop] == expected,
        "docs/ipc.md's error table is out of date; replace it with:\n{expected}"
    );
}

/// (method name, the JSON values of the ```json blocks in its section).
fn method_sections(doc: &str) -> Vec<(String, Vec<Value>)> {
    let mut sections: Vec<(String, Vec<Value>)> = Vec::new();
    let mut in_methods = false;
    let mut block: Option<String> = None;
    for line in doc.lines() {
        if let Some(text) = block.as_mut() {
            if line.trim_start().starts_with("```") {
                let value: Value = serde_json::from_str(text)
                    .unwrap_or_else(|e| panic!("a JSON example is not JSON ({e}):\n{text}"));
                if let Some((_, values)) = sections.last_mut().filter(|_| in_methods) {
                    values.push(value);
                }
                block = None;
            } else {
                text.push_str(line);
                text.push('\n');
            }
            continue;
        }
        if line.trim_start() == "```json" {
            block = Some(String::new());
        } else if line.starts_with("## ") {
            in_methods = line == "## Methods";
        } else if in_methods && let Some(heading) = line.strip_prefix("### ") {
            let name = heading.trim().trim_matches('`').to_owned();
            sections.push((name, Vec::new()));
        }
    }
    sections
}

#[test]
fn every_method_has_a_heading() {
    let doc = doc();
    let headings: Vec<&str> = doc.lines().filter(|l| l.starts_with('#')).collect();
    for method in METHOD_NAMES {
        assert!(
            headings.iter().any(|h| h.contains(&format!("`{method}`"))),
            "docs/ipc.md has no heading for `{method}`"
        );
    }
}

fn check_exchange<M: Method>(examples: &[Value]) {
    let mut requests = 0;
    let mut results = 0;
    for example in examples {
        assert_eq!(example["jsonrpc"], "2.0", "{example}");
        if example["method"] == EVENT_NOTIFICATION {
            serde_json::from_value::<Notification>(example.clone())
                .unwrap_or_else(|e| panic!("{}: event example: {e}\n{example}", M::NAME));
        } else if let Some(method) = example.get("method") {
            assert_eq!(method, M::NAME, "a request in the section of {}", M::NAME);
            assert!(
                example.get("id").is_some(),
                "{}: the example request has no id",
                M::NAME
            );
            let params = match example.get("params") {
                Some(p) => p.clone(),
                None => Value::Object(Default::default()),
            };
            decode_params::<M>(&serde_json::value::to_raw_value(&params).unwrap())
                .unwrap_or_else(|e| panic!("{}: example params: {e:?}", M::NAME));
            requests += 1;
        } else if let Some(result) = example.get("result") {
            serde_json::from_value::<M::Result>(result.clone())
                .unwrap_or_else(|e| panic!("{}: example result: {e}\n{result}", M::NAME));
            results += 1;
        } else if let Some(error) = example.get("error") {
            let e: RpcError = serde_json::from_value(error.clone())
                .unwrap_or_else(|e| panic!("{}: example error: {e}\n{error}", M::NAME));
            assert_eq!(
                e.code,
                RpcError::new(e.code(), "").code,
                "{}: {error}",
                M::NAME
            );
        } else {
            panic!(
                "{}: an example that is neither request, answer nor event: {example}",
                M::NAME
            );
        }
    }
    assert!(requests >= 1, "{}: no example request", M::NAME);
    assert!(results >= 1, "{}: no example result", M::NAME);
}

macro_rules! check_all {
    ($sections:expr; $($method:ty),* $(,)?) => {{
        let mut checked = Vec::new();
        for (name, examples) in $sections {
            $(
                if name == <$method>::NAME {
                    check_exchange::<$method>(examples);
                    checked.push(name.clone());
                    continue;
                }
            )*
            panic!("docs/ipc.md has a section for an unknown method `{name}`");
        }
        checked
    }};
}

#[test]
fn every_example_fits_the_protocol_types() {
    let doc = doc();
    let sections = method_sections(&doc);
    let mut checked = check_all!(&sections;
        StatusMethod, Unlock, Lock, PasswordLogin, ActivateAccount, ConfirmActivation,
        ChangePassword, PatientAccess, Push, Replace, UploadBegin, UploadChunk, UploadCommit,
        JobStatus, JobWait, JobList, SetMode, List, GetToPath, OpenRead, ReadChunk, CloseRead,
        OpenDsp, ReportAnomaly, HpdLookup, LogTail, Subscribe,
    );
    checked.sort();
    let mut all: Vec<String> = METHOD_NAMES.iter().map(|m| m.to_string()).collect();
    all.sort();
    assert_eq!(
        checked, all,
        "each method needs exactly one section under ## Methods"
    );
}

/// The examples outside the method sections (envelope, errors, events).
#[test]
fn the_other_examples_are_valid_messages() {
    let doc = doc();
    let mut in_block = false;
    let mut text = String::new();
    let mut messages = 0;
    for line in doc.lines() {
        if in_block {
            if line.trim_start().starts_with("```") {
                in_block = false;
                let v: Value = serde_json::from_str(&text).unwrap();
                if v.get("method").is_some_and(|m| m != EVENT_NOTIFICATION) {
                    serde_json::from_value::<Request>(v).unwrap();
                } else {
                    serde_json::from_value::<ServerMessage>(v.clone())
                        .unwrap_or_else(|e| panic!("{e}: {v}"));
                }
                messages += 1;
                text.clear();
            } else {
                text.push_str(line);
            }
        } else if line.trim_start() == "```json" {
            in_block = true;
        }
    }
    assert!(messages > 60, "only {messages} JSON examples found");
}

/// The Python snippet of "Speaking it directly", run as it is against the
/// real server.
#[test]
fn the_python_example_runs() {
    let doc = doc();
    let start = doc.find("```python\n").expect("no python example") + "```python\n".len();
    let script = &doc[start..start + doc[start..].find("```").unwrap()];
    let d = common::TestDaemon::start_with(
        "doc-python",
        common::Options {
            complete_jobs: true,
            ..common::Options::default()
        },
    );
    let work = tempfile::tempdir().unwrap();
    common::file_with(work.path(), "lettre.pdf", b"%PDF-1.4");
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .current_dir(work.path())
        .env("DSPCONNECT_SOCKET", d.socket())
        .output()
        .expect("python3 is needed to run the documentation's example");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout, "SANDBOX sandbox authenticated\ndone\n");
    let pushed = d.state.lock().unwrap().last_push.clone().unwrap();
    assert_eq!(
        pushed.source,
        DocumentSource::Path(work.path().join("lettre.pdf").to_str().unwrap().to_owned())
    );
}
