//! Where the configuration file and the daemon's state live (XDG base
//! directories), resolved from an environment lookup so that tests can
//! give their own environment without touching the process's.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Environment variable naming the configuration file explicitly.
pub const CONFIG_ENV: &str = "DSPCONNECT_CONFIG";

/// The configuration file's name in `$XDG_CONFIG_HOME/dspconnect/`.
pub const CONFIG_FILE_NAME: &str = "dspconnectd.toml";

/// The XDG base directories that matter to the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XdgDirs {
    config_home: Option<PathBuf>,
    state_home: Option<PathBuf>,
    data_home: Option<PathBuf>,
}

impl XdgDirs {
    /// From the process environment.
    pub fn from_env() -> XdgDirs {
        XdgDirs::from_lookup(|name| std::env::var_os(name))
    }

    /// From any environment lookup. Per the XDG specification a relative
    /// `XDG_*_HOME` is ignored, and `$HOME/.config`, `$HOME/.local/state`,
    /// `$HOME/.local/share` are the fallbacks.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<OsString>) -> XdgDirs {
        let absolute = |name: &str| lookup(name).map(PathBuf::from).filter(|p| p.is_absolute());
        let home = absolute("HOME");
        let pick = |var: &str, fallback: &str| {
            absolute(var).or_else(|| home.as_ref().map(|h| h.join(fallback)))
        };
        XdgDirs {
            config_home: pick("XDG_CONFIG_HOME", ".config"),
            state_home: pick("XDG_STATE_HOME", ".local/state"),
            data_home: pick("XDG_DATA_HOME", ".local/share"),
        }
    }

    pub fn config_home(&self) -> Option<&Path> {
        self.config_home.as_deref()
    }

    pub fn state_home(&self) -> Option<&Path> {
        self.state_home.as_deref()
    }

    pub fn data_home(&self) -> Option<&Path> {
        self.data_home.as_deref()
    }

    /// `$XDG_STATE_HOME/dspconnect/<leaf>`, or an empty path when there is
    /// no home at all (validation then names the key to set).
    pub fn state_path(&self, leaf: &str) -> PathBuf {
        self.state_home
            .as_ref()
            .map(|d| d.join("dspconnect").join(leaf))
            .unwrap_or_default()
    }

    /// `$XDG_DATA_HOME/dspconnect/<leaf>`, or an empty path (as above).
    pub fn data_path(&self, leaf: &str) -> PathBuf {
        self.data_home
            .as_ref()
            .map(|d| d.join("dspconnect").join(leaf))
            .unwrap_or_default()
    }
}

/// Where the configuration file is, and whether someone named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigLocation {
    pub path: PathBuf,
    /// Named by `--config` or `DSPCONNECT_CONFIG`: then it must exist.
    /// The default location may be absent (the embedded sandbox runs).
    pub explicit: bool,
}

impl ConfigLocation {
    /// `--config` first, then `$DSPCONNECT_CONFIG`, then
    /// `$XDG_CONFIG_HOME/dspconnect/dspconnectd.toml`. `None` when no home
    /// is known at all and nothing was named.
    pub fn resolve(
        cli: Option<&Path>,
        lookup: impl Fn(&str) -> Option<OsString>,
    ) -> Option<ConfigLocation> {
        if let Some(p) = cli {
            return Some(ConfigLocation {
                path: p.to_owned(),
                explicit: true,
            });
        }
        if let Some(p) = lookup(CONFIG_ENV).filter(|p| !p.is_empty()) {
            return Some(ConfigLocation {
                path: p.into(),
                explicit: true,
            });
        }
        XdgDirs::from_lookup(lookup)
            .config_home()
            .map(|d| ConfigLocation {
                path: d.join("dspconnect").join(CONFIG_FILE_NAME),
                explicit: false,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let map: HashMap<String, OsString> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), OsString::from(v)))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn xdg_variables_win_and_home_is_the_fallback() {
        let dirs = XdgDirs::from_lookup(env(&[
            ("HOME", "/home/gp"),
            ("XDG_STATE_HOME", "/var/state"),
            ("XDG_CONFIG_HOME", "relative/ignored"),
        ]));
        assert_eq!(dirs.state_home(), Some(Path::new("/var/state")));
        assert_eq!(dirs.config_home(), Some(Path::new("/home/gp/.config")));
        assert_eq!(dirs.data_home(), Some(Path::new("/home/gp/.local/share")));
        assert_eq!(
            dirs.state_path("outbox"),
            PathBuf::from("/var/state/dspconnect/outbox")
        );
        let none = XdgDirs::from_lookup(env(&[]));
        assert_eq!(none.state_path("outbox"), PathBuf::new());
    }

    #[test]
    fn config_location_order() {
        let lookup = env(&[("HOME", "/home/gp"), (CONFIG_ENV, "/etc/dsp.toml")]);
        let cli = ConfigLocation::resolve(Some(Path::new("/x.toml")), &lookup).unwrap();
        assert_eq!(cli.path, PathBuf::from("/x.toml"));
        assert!(cli.explicit);
        let from_env = ConfigLocation::resolve(None, &lookup).unwrap();
        assert_eq!(from_env.path, PathBuf::from("/etc/dsp.toml"));
        assert!(from_env.explicit);
        let default = ConfigLocation::resolve(None, env(&[("HOME", "/home/gp")])).unwrap();
        assert_eq!(
            default.path,
            PathBuf::from("/home/gp/.config/dspconnect/dspconnectd.toml")
        );
        assert!(!default.explicit);
        assert_eq!(ConfigLocation::resolve(None, env(&[])), None);
    }
}
