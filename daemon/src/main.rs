fn main() {
    eprintln!("dspconnectd: not built yet (issue 4); see README.md");
    std::process::exit(1);
}
