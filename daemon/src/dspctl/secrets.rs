//! Reading PINs, passwords and codes: from the terminal without echo, or
//! from standard input one per line. Never from arguments (they show in
//! `ps` and shell history). Read unbuffered, so no copy lingers in a
//! standard-library buffer, and zeroized when dropped.

use std::io::Read;

use dspconnect::ipc::protocol::SecretString;
use zeroize::{Zeroize, Zeroizing};

use super::Failure;

/// Where secrets come from for this invocation.
pub struct SecretReader {
    from_stdin: bool,
}

impl SecretReader {
    pub fn new(from_stdin: bool) -> Self {
        SecretReader { from_stdin }
    }

    /// One secret; `what` names it in prompts and errors ("PIN").
    pub fn read(&mut self, what: &str, stdin_flag: &str) -> Result<SecretString, Failure> {
        let secret = if self.from_stdin {
            read_stdin_line(what)?
        } else {
            prompt(what, stdin_flag)?
        };
        if secret.is_empty() {
            return Err(Failure::usage(format!("the {what} is empty")));
        }
        Ok(SecretString::new(secret.as_str()))
    }

    /// A new secret, typed twice on a terminal.
    pub fn read_new(&mut self, what: &str, stdin_flag: &str) -> Result<SecretString, Failure> {
        let first = self.read(what, stdin_flag)?;
        if !self.from_stdin {
            let again = self.read(&format!("{what} again"), stdin_flag)?;
            if again != first {
                return Err(Failure::usage(format!("the two {what}s differ")));
            }
        }
        Ok(first)
    }
}

fn prompt(what: &str, stdin_flag: &str) -> Result<Zeroizing<String>, Failure> {
    rpassword::prompt_password(format!("{what}: "))
        .map(Zeroizing::new)
        .map_err(|e| {
            Failure::usage(format!(
                "cannot ask for the {what} on a terminal ({e}); pass {stdin_flag} and send it \
                 on standard input"
            ))
        })
}

/// One line of standard input, without its line ending.
fn read_stdin_line(what: &str) -> Result<Zeroizing<String>, Failure> {
    let mut input = unbuffered_stdin()
        .map_err(|e| Failure::usage(format!("cannot read the {what} from standard input: {e}")))?;
    let mut bytes = Zeroizing::new(Vec::new());
    let mut byte = [0u8; 1];
    loop {
        match input.read(&mut byte) {
            Ok(0) => break,
            Ok(_) if byte[0] == b'\n' => break,
            Ok(_) => bytes.push(byte[0]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                byte.zeroize();
                return Err(Failure::usage(format!(
                    "cannot read the {what} from standard input: {e}"
                )));
            }
        }
    }
    byte.zeroize();
    if bytes.last() == Some(&b'\r') {
        bytes.pop();
    }
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| Failure::usage(format!("the {what} on standard input is not UTF-8")))?;
    Ok(Zeroizing::new(text.to_owned()))
}

#[cfg(unix)]
fn unbuffered_stdin() -> std::io::Result<std::fs::File> {
    use std::os::fd::AsFd;
    Ok(std::fs::File::from(
        std::io::stdin().as_fd().try_clone_to_owned()?,
    ))
}

#[cfg(not(unix))]
fn unbuffered_stdin() -> std::io::Result<std::io::Stdin> {
    Ok(std::io::stdin())
}
