//! libFuzzer entry point for every registered target; the environment
//! variable IHE_FUZZ_TARGET names the one to run (`list` prints the names).

#![no_main]

use std::sync::OnceLock;

use ihe_fuzz::targets::{TARGETS, Target};
use libfuzzer_sys::fuzz_target;

static SELECTED: OnceLock<&'static Target> = OnceLock::new();

fn select() -> &'static Target {
    let wanted = std::env::var("IHE_FUZZ_TARGET").unwrap_or_default();
    if wanted == "list" {
        for target in TARGETS {
            println!("{}", target.name);
        }
        std::process::exit(0);
    }
    match TARGETS.iter().find(|t| t.name == wanted) {
        Some(target) => target,
        None => {
            let names: Vec<&str> = TARGETS.iter().map(|t| t.name).collect();
            eprintln!(
                "set IHE_FUZZ_TARGET to one of: {} (got '{wanted}')",
                names.join(", ")
            );
            std::process::exit(2);
        }
    }
}

fuzz_target!(
    init: {
        SELECTED.get_or_init(select);
    },
    |data: &[u8]| {
        (SELECTED.get_or_init(select).run)(data);
    }
);
