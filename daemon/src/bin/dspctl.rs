//! `dspctl`: the daemon's methods from a shell (see `dspctl --help`).

#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    dspconnectd::dspctl::main()
}
