//! Opening the professional's default browser on a one-time DSP URL. The
//! URL is a bearer secret: it goes to the browser as an argument and is
//! never logged.

use std::process::{Command, Stdio};

/// Starts the browser (`$BROWSER` when set, else `xdg-open` / `open` /
/// `start` by platform) without waiting for it. `Err` says why it could
/// not start; the caller still has the URL to open by hand.
pub fn launch(url: &str) -> Result<(), String> {
    let program = std::env::var_os("BROWSER")
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| default_opener().into());
    let mut command = Command::new(&program);
    #[cfg(windows)]
    if program == "cmd" {
        command.args(["/C", "start", ""]);
    }
    command
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    match command.spawn() {
        Ok(mut child) => {
            // Reap it in the background so that no zombie stays.
            std::thread::spawn(move || {
                let _ = child.wait();
            });
            Ok(())
        }
        Err(e) => Err(format!(
            "cannot start the browser '{}': {e}",
            program.to_string_lossy()
        )),
    }
}

fn default_opener() -> &'static str {
    if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "cmd"
    } else {
        "xdg-open"
    }
}
