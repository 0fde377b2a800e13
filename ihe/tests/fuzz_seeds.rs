//! The fuzz targets' quick regression mode: every committed seed in
//! `fuzz/seeds/<target>/` goes through its target, in the ordinary test
//! run. The targets and their registry are the fuzz crate's own file,
//! compiled here as a module; long fuzzing is `scripts/fuzz.sh SECONDS`.

#[path = "../../fuzz/src/targets.rs"]
mod targets;

use std::path::{Path, PathBuf};

fn seed_files(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/seeds")
        .join(target);
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| {
        panic!(
            "fuzz target '{target}' has no seed directory {} ({e}): add a few inputs there",
            dir.display()
        )
    });
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.is_file()
                && !path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with('.'))
        })
        .collect();
    files.sort();
    files
}

#[test]
fn every_target_replays_its_seeds() {
    for target in targets::TARGETS {
        let files = seed_files(target.name);
        assert!(
            !files.is_empty(),
            "fuzz target '{}' has no seeds in fuzz/seeds/{}/",
            target.name,
            target.name
        );
        for file in files {
            let data = std::fs::read(&file).unwrap();
            eprintln!("{}: {}", target.name, file.display());
            (target.run)(&data);
        }
    }
}

#[test]
fn every_target_survives_degenerate_inputs() {
    let inputs: [&[u8]; 8] = [
        b"",
        b"\n",
        b"<",
        b"\xff\xfe",
        b"\0",
        b"multipart/related; boundary=B; type=application/xop+xml\n",
        b"multipart/related; boundary=B; type=application/xop+xml\n--B",
        b"cid:",
    ];
    for target in targets::TARGETS {
        for input in inputs {
            (target.run)(input);
        }
    }
}

#[test]
fn target_names_are_unique() {
    let mut names: Vec<&str> = targets::TARGETS.iter().map(|t| t.name).collect();
    names.sort_unstable();
    let count = names.len();
    names.dedup();
    assert_eq!(names.len(), count, "duplicate fuzz target names");
}
