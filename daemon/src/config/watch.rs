//! Live reload: watch the configuration file, re-read it after a burst of
//! changes settles, and report either the new configuration with what
//! changed, or why the new file is refused (the running configuration then
//! stays; the caller logs the reason).

use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{Config, ConfigError, ConfigLocation, ReloadEffect, diff};
use crate::private_fs;

/// What the watcher sends on each effective change.
pub type ReloadEvent = Result<(Config, ReloadEffect), ConfigError>;

/// Editors write a file in several steps (truncate, write, rename); wait
/// this long after the last event before reading.
const SETTLE: Duration = Duration::from_millis(300);

/// A running watcher; dropping it stops watching.
pub struct ConfigWatcher {
    _watcher: notify::RecommendedWatcher,
    task: JoinHandle<()>,
}

impl Drop for ConfigWatcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Watches the file at `location` (through its folder, so that editors
/// replacing the file by a rename are seen). `running` is the configuration
/// in force; each accepted change becomes the new reference for the next
/// diff. Must be called inside a tokio runtime.
///
/// Sends `Ok((config, effect))` when a new valid file changes a setting (or
/// when a valid file follows a refused one, so the caller can clear its
/// error), `Err` when the new file is refused — the caller keeps `running`.
pub fn watch(
    location: &ConfigLocation,
    running: Config,
    events: mpsc::Sender<ReloadEvent>,
) -> Result<ConfigWatcher, ConfigError> {
    let path = location.path.clone();
    let watch_err = |source: notify::Error| ConfigError::Watch {
        path: path.clone(),
        source,
    };
    let folder = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_owned();
    if !location.explicit && !folder.exists() {
        // First run: the default folder does not exist yet; create it so
        // that a configuration written later is noticed.
        private_fs::create_private_dir_all(&folder).map_err(|e| ConfigError::Read {
            path: folder.clone(),
            source: e,
        })?;
    }
    let file_name = path.file_name().map(|n| n.to_os_string());
    let (tick_tx, tick_rx) = mpsc::unbounded_channel::<()>();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let relevant = match &event {
            Ok(ev) => ev
                .paths
                .iter()
                .any(|p| p.file_name().map(|n| n.to_os_string()) == file_name),
            // A watcher error (queue overflow): re-read to be sure.
            Err(_) => true,
        };
        if relevant {
            // The receiver is gone only when the watcher is being dropped.
            let _ = tick_tx.send(());
        }
    })
    .map_err(watch_err)?;
    watcher
        .watch(&folder, RecursiveMode::NonRecursive)
        .map_err(watch_err)?;
    let task = tokio::spawn(reload_loop(path, running, tick_rx, events));
    Ok(ConfigWatcher {
        _watcher: watcher,
        task,
    })
}

async fn reload_loop(
    path: PathBuf,
    mut running: Config,
    mut ticks: mpsc::UnboundedReceiver<()>,
    events: mpsc::Sender<ReloadEvent>,
) {
    let mut last_text: Option<String> = None;
    let mut last_was_error = false;
    while ticks.recv().await.is_some() {
        loop {
            match tokio::time::timeout(SETTLE, ticks.recv()).await {
                Ok(Some(())) => continue,
                Ok(None) => return,
                Err(_settled) => break,
            }
        }
        let event = match tokio::fs::read_to_string(&path).await {
            Ok(text) => {
                if last_text.as_deref() == Some(text.as_str()) {
                    continue;
                }
                let outcome = Config::from_toml_str(&text, &path);
                last_text = Some(text);
                match outcome {
                    Ok(new) => {
                        let effect = diff(&running, &new);
                        if effect.is_empty() && !last_was_error {
                            continue;
                        }
                        running = new.clone();
                        last_was_error = false;
                        tracing::info!(file = %path.display(), %effect, "configuration reloaded");
                        Ok((new, effect))
                    }
                    Err(e) => {
                        last_was_error = true;
                        tracing::warn!(error = %e, "new configuration refused; the running one stays");
                        Err(e)
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if last_text.take().is_none() && last_was_error {
                    continue;
                }
                last_was_error = true;
                tracing::warn!(file = %path.display(), "configuration file removed; the running configuration stays");
                Err(ConfigError::Removed { path: path.clone() })
            }
            Err(source) => {
                last_text = None;
                last_was_error = true;
                Err(ConfigError::Read {
                    path: path.clone(),
                    source,
                })
            }
        };
        if events.send(event).await.is_err() {
            return;
        }
    }
}
