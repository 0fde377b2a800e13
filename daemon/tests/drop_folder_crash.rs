//! Crash campaign (long mode, `--ignored`): a process running the drop
//! folder and the outbox is killed with SIGKILL at random points while 500
//! files are dropped, restarted, and killed again; at the end every file is
//! in `sent/` exactly once and each document was registered exactly once.
//!
//! The registry here is a file the child appends to (fsynced), answering a
//! resent uniqueId as XDS does (the same submission is registered once);
//! it outlives the kills, which an in-process platform would not.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use dspconnect::model::ConfidentialityCodeTable;
use dspconnectd::config::{DocumentDefaults, DropFolderConfig};
use dspconnectd::drop_folder::spawn_drop_folder;
use dspconnectd::outbox::{
    JobRecord, Outbox, OutboxPolicy, Owner, ReadBackOutcome, RegisteredEntry, ResolveContext,
    UploadOutcome, Uploader,
};

const CHILD: &str = "DSPCONNECT_CRASH_CHILD";
const PATIENT: &str = "1893120105732";
const FILES: usize = 500;

/// uniqueId → SHA-1, appended to a file and fsynced before answering.
struct FileRegistry {
    path: PathBuf,
}

impl FileRegistry {
    fn entries(path: &Path) -> Vec<(String, String)> {
        fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let (u, s) = l.split_once(' ')?;
                Some((u.to_owned(), s.to_owned()))
            })
            .collect()
    }
}

impl Uploader for FileRegistry {
    async fn upload(&self, job: &JobRecord, _content: &Path) -> UploadOutcome {
        let known: HashMap<String, String> = Self::entries(&self.path).into_iter().collect();
        if known.get(&job.document_unique_id) == Some(&job.content.sha1) {
            return UploadOutcome::Registered;
        }
        let mut f = fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&self.path)
            .unwrap();
        writeln!(f, "{} {}", job.document_unique_id, job.content.sha1).unwrap();
        f.sync_all().unwrap();
        UploadOutcome::Registered
    }

    async fn read_back(&self, job: &JobRecord) -> ReadBackOutcome {
        match Self::entries(&self.path)
            .into_iter()
            .find(|(u, _)| *u == job.document_unique_id)
        {
            Some((_, sha1)) => ReadBackOutcome::Found(RegisteredEntry {
                sha1,
                author_ehealth_id: job.owner.ehealth_id.clone(),
            }),
            None => ReadBackOutcome::NotFound,
        }
    }
}

fn random_below(n: u64) -> u64 {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    (nanos
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407)
        >> 33)
        % n
}

/// The child: the drop folder and the outbox, until killed.
#[test]
fn crash_child() {
    let Some(dir) = std::env::var_os(CHILD) else {
        return;
    };
    let dir = PathBuf::from(dir);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let outbox = Outbox::open(
            &dir.join("spool"),
            OutboxPolicy {
                max_document_bytes: 1024 * 1024,
                retry_base: Duration::from_millis(10),
                retry_max: Duration::from_millis(100),
                max_attempts_for_retryable: 50,
                keep_done: Duration::from_secs(3600),
                upload_expiry: Duration::from_secs(3600),
            },
            None,
        )
        .unwrap();
        let owner = Owner::new("2854201475", &"a1".repeat(32)).unwrap();
        let (_owner_tx, owner_rx) = tokio::sync::watch::channel(Some(owner));
        let _scheduler = outbox.spawn_scheduler(
            Arc::new(FileRegistry {
                path: dir.join("registry.txt"),
            }),
            owner_rx.clone(),
        );
        let config = DropFolderConfig {
            path: Some(dir.join("drop")),
            poll_seconds: 1,
            settle_ms: 300,
            ..DropFolderConfig::default()
        };
        let _handle = spawn_drop_folder(
            &config,
            outbox,
            owner_rx,
            ResolveContext {
                codes: ConfidentialityCodeTable::sandbox(),
                defaults: DocumentDefaults::sandbox(),
                unique_id_root: None,
            },
        )
        .unwrap();
        println!("ready");
        std::future::pending::<()>().await;
    });
}

fn start_child(dir: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env(CHILD, dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn count(dir: &Path, suffix: &str) -> usize {
    fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(suffix))
                .count()
        })
        .unwrap_or(0)
}

#[test]
#[ignore = "long: crash campaign (scripts/test.sh --long)"]
fn every_file_is_sent_exactly_once_across_kills() {
    if std::env::var_os(CHILD).is_some() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let drop = dir.path().join("drop");
    fs::create_dir(&drop).unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&drop, fs::Permissions::from_mode(0o700)).unwrap();
    let inbox = drop.join("inbox").join(PATIENT);
    let started = Instant::now();
    let mut written = 0;
    let mut kills = 0;
    loop {
        let mut child = start_child(dir.path());
        // Drop a batch while it runs, then kill it at a random point.
        let batch = 25 + random_below(50) as usize;
        for _ in 0..batch.min(FILES - written) {
            fs::create_dir_all(&inbox).unwrap();
            let name = format!("doc-{written:04}.pdf");
            fs::write(
                inbox.join(format!("{name}.dsp.json")),
                br#"{"patient_statement": {"informed_and_agrees": true}}"#,
            )
            .unwrap();
            fs::write(
                inbox.join(&name),
                format!("%PDF-1.7\n% document {written}\n%%EOF\n"),
            )
            .unwrap();
            written += 1;
        }
        std::thread::sleep(Duration::from_millis(100 + random_below(700)));
        let done =
            count(&drop.join("sent"), ".receipt.json") + count(&drop.join("failed"), ".error.json");
        if written == FILES && done == FILES {
            child.kill().unwrap();
            child.wait().unwrap();
            break;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        kills += 1;
        assert!(
            started.elapsed() < Duration::from_secs(900),
            "not finished after {kills} kills: {done} of {FILES} done"
        );
    }
    // Every file once, in sent/; nothing left anywhere else.
    assert_eq!(count(&drop.join("failed"), ".error.json"), 0);
    assert_eq!(count(&drop.join("sent"), ".receipt.json"), FILES);
    assert_eq!(count(&drop.join("queued"), ".pdf"), 0);
    assert_eq!(count(&inbox, ".pdf"), 0);
    // Each document registered exactly once.
    let registry = FileRegistry::entries(&dir.path().join("registry.txt"));
    let unique_ids: HashSet<&String> = registry.iter().map(|(u, _)| u).collect();
    let contents: HashSet<&String> = registry.iter().map(|(_, s)| s).collect();
    assert_eq!(unique_ids.len(), FILES, "{} registrations", registry.len());
    assert_eq!(contents.len(), FILES, "a content was registered twice");
    let mut receipts = HashSet::new();
    for e in fs::read_dir(drop.join("sent")).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".receipt.json") {
            let r: serde_json::Value =
                serde_json::from_slice(&fs::read(e.path()).unwrap()).unwrap();
            assert_eq!(r["duplicate"], serde_json::Value::Null, "{name}: {r}");
            assert!(unique_ids.contains(&r["uniqueId"].as_str().unwrap().to_owned()));
            receipts.insert(r["uniqueId"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(receipts.len(), FILES);
    println!(
        "crash campaign: {FILES} files, {kills} kills, {:?}",
        started.elapsed()
    );
}
