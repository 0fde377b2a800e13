//! `dspctl doctor`: checks each layer dspctl can see — configuration,
//! socket, daemon, platform (reachability, TLS with the pinned CA, clock
//! skew), sandbox or production — and says what to fix. It works with no
//! daemon running (that is one of the things it diagnoses).

use std::time::Duration;

use dspconnect::ipc::protocol::{SessionState, Status};
use dspconnect::ipc::{Client, Endpoint};
use serde::Serialize;

use crate::config::{Config, ConfigLocation, PlatformKind};
use crate::platform::PlatformClient;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Ok,
    Warning,
    Failed,
}

/// One line of the diagnosis.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub layer: &'static str,
    pub verdict: Verdict,
    pub message: String,
    /// What to do, when something is wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

fn finding(layer: &'static str, verdict: Verdict, message: impl Into<String>) -> Finding {
    Finding {
        layer,
        verdict,
        message: message.into(),
        fix: None,
    }
}

impl Finding {
    fn fix(mut self, fix: impl Into<String>) -> Finding {
        self.fix = Some(fix.into());
        self
    }
}

/// Clock skew beyond which the platform refuses signed requests
/// (WS-Security Timestamp freshness).
const MAX_SKEW_SECONDS: i64 = 120;

/// Runs every check.
pub fn diagnose(endpoint: Result<Endpoint, String>, timeout: Duration) -> Vec<Finding> {
    let mut findings = Vec::new();
    let config = check_config(&mut findings);
    let status = check_daemon(&mut findings, endpoint, timeout);
    check_card_layer(&mut findings, config.as_ref());
    if let Some(status) = &status {
        check_certificate(&mut findings, &status.card, time::OffsetDateTime::now_utc());
    }
    check_platform(&mut findings, config.as_ref(), status.as_ref());
    findings
}

/// Days before its end from which a card certificate is a warning.
const CERTIFICATE_WARNING_DAYS: i64 = 30;

/// The card's certificate, as the daemon read it from the card.
fn check_certificate(
    findings: &mut Vec<Finding>,
    card: &dspconnect::ipc::protocol::CardStatus,
    now: time::OffsetDateTime,
) {
    let Some(not_after) = &card.certificate_not_after else {
        return;
    };
    let Ok(end) =
        time::OffsetDateTime::parse(not_after, &time::format_description::well_known::Rfc3339)
    else {
        return;
    };
    let days = (end - now).whole_days();
    let found = if end <= now {
        finding(
            "cert",
            Verdict::Failed,
            format!("the card's certificate expired on {not_after}"),
        )
        .fix("the card must be renewed (LuxTrust); the platform refuses an expired certificate")
    } else if days < CERTIFICATE_WARNING_DAYS {
        finding(
            "cert",
            Verdict::Warning,
            format!("the card's certificate expires in {days} days ({not_after})"),
        )
        .fix("order the card's renewal from LuxTrust now")
    } else {
        finding(
            "cert",
            Verdict::Ok,
            format!("the card's certificate is valid until {not_after}"),
        )
    };
    findings.push(found);
}

/// The card layer the configuration asks for: pcscd and its readers, or
/// the PKCS#11 module.
fn check_card_layer(findings: &mut Vec<Finding>, config: Option<&Config>) {
    use crate::config::CardBackendKind;
    let Some(config) = config else { return };
    let card = &config.card;
    let kind = match (card.backend, &card.pkcs11_module) {
        (CardBackendKind::Auto, _) if config.sandbox_enabled() => {
            findings.push(finding(
                "cardlayer",
                Verdict::Ok,
                "the embedded sandbox's software card (SANDBOX)",
            ));
            return;
        }
        (CardBackendKind::Auto, Some(_)) => CardBackendKind::Pkcs11,
        (CardBackendKind::Auto, None) => CardBackendKind::Pcsc,
        (kind, _) => kind,
    };
    match kind {
        CardBackendKind::Pkcs11 => {
            let Some(module) = &card.pkcs11_module else {
                return;
            };
            match crate::card::pkcs11::Pkcs11Backend::open(module, None) {
                Ok(_) => findings.push(finding(
                    "pkcs11",
                    Verdict::Ok,
                    format!("the PKCS#11 module {} loads", module.display()),
                )),
                Err(e) => findings
                    .push(finding("pkcs11", Verdict::Failed, e.to_string()).fix(
                        "install the card vendor's middleware, or correct card.pkcs11_module",
                    )),
            }
        }
        _ => check_pcsc(findings, card.reader.as_deref()),
    }
}

#[cfg(feature = "pcsc")]
fn check_pcsc(findings: &mut Vec<Finding>, filter: Option<&str>) {
    let context = match pcsc::Context::establish(pcsc::Scope::User) {
        Ok(context) => context,
        Err(pcsc::Error::NoService | pcsc::Error::ServiceStopped) => {
            findings.push(
                finding(
                    "pcscd",
                    Verdict::Failed,
                    "the PC/SC service (pcscd) is not running",
                )
                .fix("start it: `sudo systemctl start pcscd.socket` (Debian: apt install pcscd)"),
            );
            return;
        }
        Err(e) => {
            findings.push(finding("pcscd", Verdict::Failed, format!("PC/SC: {e}")));
            return;
        }
    };
    findings.push(finding("pcscd", Verdict::Ok, "the PC/SC service answers"));
    let readers: Vec<String> = match context.list_readers_owned() {
        Ok(names) => names
            .iter()
            .map(|n| n.to_string_lossy().into_owned())
            .filter(|n| filter.is_none_or(|f| n.contains(f)))
            .collect(),
        Err(pcsc::Error::NoReadersAvailable) => Vec::new(),
        Err(e) => {
            findings.push(finding("reader", Verdict::Failed, format!("PC/SC: {e}")));
            return;
        }
    };
    if readers.is_empty() {
        let what = match filter {
            Some(f) => format!("no card reader whose name contains '{f}' (card.reader)"),
            None => "no card reader is connected".to_owned(),
        };
        findings.push(
            finding("reader", Verdict::Warning, what)
                .fix("connect the card reader (and check card.reader)"),
        );
    } else {
        findings.push(finding(
            "reader",
            Verdict::Ok,
            format!("readers: {}", readers.join(", ")),
        ));
    }
}

#[cfg(not(feature = "pcsc"))]
fn check_pcsc(findings: &mut Vec<Finding>, _filter: Option<&str>) {
    findings.push(
        finding(
            "pcscd",
            Verdict::Warning,
            "this build has no PC/SC support (built without the `pcsc` feature)",
        )
        .fix(
            "use a build with PC/SC, or configure the vendor's PKCS#11 module (card.pkcs11_module)",
        ),
    );
}

fn check_config(findings: &mut Vec<Finding>) -> Option<Config> {
    let Some(location) = ConfigLocation::resolve(None, |name| std::env::var_os(name)) else {
        findings.push(
            finding(
                "config",
                Verdict::Failed,
                "no configuration location: HOME is not set",
            )
            .fix("set HOME, or name the file with DSPCONNECT_CONFIG"),
        );
        return None;
    };
    let shown = location.path.display().to_string();
    match Config::load(&location) {
        Ok(config) => {
            let what = if location.path.exists() {
                format!("{shown} is valid")
            } else {
                format!("{shown} does not exist: the defaults apply (embedded sandbox)")
            };
            findings.push(finding("config", Verdict::Ok, what));
            Some(config)
        }
        Err(e) => {
            findings.push(
                finding("config", Verdict::Failed, e.to_string()).fix(format!(
                    "correct {shown} (docs/configuration.md lists every key)"
                )),
            );
            None
        }
    }
}

fn check_daemon(
    findings: &mut Vec<Finding>,
    endpoint: Result<Endpoint, String>,
    timeout: Duration,
) -> Option<Status> {
    let endpoint = match endpoint {
        Ok(e) => e,
        Err(e) => {
            findings.push(
                finding("socket", Verdict::Failed, e)
                    .fix("set XDG_RUNTIME_DIR (a desktop session does), or give --socket"),
            );
            return None;
        }
    };
    let socket = endpoint.path().display().to_string();
    let mut client = match Client::connect(&endpoint, timeout) {
        Ok(c) => c,
        Err(e) => {
            findings.push(
                finding(
                    "socket",
                    Verdict::Failed,
                    format!("{socket}: {}", e.message),
                )
                .fix("start the daemon: `dspconnectd` (or `systemctl --user start dspconnectd`)"),
            );
            return None;
        }
    };
    findings.push(finding("socket", Verdict::Ok, format!("{socket} answers")));
    let status = match client.call::<dspconnect::ipc::protocol::StatusMethod>(&Default::default()) {
        Ok(s) => s,
        Err(e) => {
            findings.push(
                finding(
                    "daemon",
                    Verdict::Failed,
                    format!("status failed: {}", e.message),
                )
                .fix("restart dspconnectd; `journalctl --user -u dspconnectd` shows why"),
            );
            return None;
        }
    };
    let ours = env!("CARGO_PKG_VERSION");
    if status.version == ours {
        findings.push(finding(
            "daemon",
            Verdict::Ok,
            format!(
                "dspconnectd {} (protocol {})",
                status.version, status.protocol
            ),
        ));
    } else {
        findings.push(
            finding(
                "daemon",
                Verdict::Warning,
                format!("dspconnectd {} but dspctl {ours}", status.version),
            )
            .fix("install dspctl and dspconnectd from the same release"),
        );
    }
    let mode = if status.sandbox {
        finding(
            "platform",
            Verdict::Warning,
            format!(
                "SANDBOX: platform '{}' is the test platform; nothing reaches the real DSP",
                status.platform
            ),
        )
        .fix("for production, configure [platform] (docs/configuration.md)")
    } else {
        finding(
            "platform",
            Verdict::Ok,
            format!("production platform '{}'", status.platform),
        )
    };
    findings.push(mode);
    let card = match (status.card.reader_present, status.card.card_present) {
        (false, _) => finding("card", Verdict::Warning, "no card reader is connected")
            .fix("connect the LuxTrust card reader"),
        (true, false) => finding("card", Verdict::Warning, "no card in the reader")
            .fix("insert the LuxTrust card"),
        (true, true) if status.card.blocked => {
            finding("card", Verdict::Failed, "the card's PIN is blocked")
                .fix("unblock it with the PUK (LuxTrust's tools)")
        }
        (true, true) => finding(
            "card",
            Verdict::Ok,
            format!(
                "card of {} in {}",
                status
                    .card
                    .holder
                    .as_ref()
                    .map_or("an unknown holder", |h| h.name.as_str()),
                status.card.reader.as_deref().unwrap_or("the reader")
            ),
        ),
    };
    findings.push(card);
    let session = match status.session.state {
        SessionState::Authenticated => finding("session", Verdict::Ok, "authenticated"),
        state => finding("session", Verdict::Warning, format!("{state:?}"))
            .fix("unlock with the card's PIN: dspctl unlock"),
    };
    findings.push(session);
    if status.outbox.failed > 0 {
        findings.push(
            finding(
                "outbox",
                Verdict::Warning,
                format!("{} documents failed", status.outbox.failed),
            )
            .fix("`dspctl jobs` says why for each and what to do"),
        );
    }
    Some(status)
}

fn check_platform(findings: &mut Vec<Finding>, config: Option<&Config>, status: Option<&Status>) {
    let Some(config) = config else { return };
    if config.sandbox_enabled() {
        let note = if status.is_some() {
            "the embedded sandbox runs inside the daemon (reached through it)"
        } else {
            "the embedded sandbox starts with the daemon"
        };
        findings.push(finding("platform", Verdict::Ok, note));
        return;
    }
    let Some(profile) = &config.platform else {
        return;
    };
    if profile.kind == PlatformKind::Sandbox {
        findings.push(finding(
            "platform",
            Verdict::Warning,
            format!("profile '{}' is a sandbox", profile.name),
        ));
    }
    let client = match PlatformClient::new(profile) {
        Ok(c) => c,
        Err(e) => {
            findings.push(
                finding("tls", Verdict::Failed, e.to_string())
                    .fix("check platform.ca_file: the platform's CA certificate in PEM"),
            );
            return;
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            findings.push(finding("platform", Verdict::Failed, e.to_string()));
            return;
        }
    };
    match runtime.block_on(client.probe()) {
        Ok(probe) => {
            findings.push(finding(
                "tls",
                Verdict::Ok,
                format!(
                    "{} reached; its certificate chains to the pinned CA",
                    profile.idp_url
                ),
            ));
            match probe.clock_skew_seconds {
                Some(skew) if skew.abs() > MAX_SKEW_SECONDS => findings.push(
                    finding(
                        "clock",
                        Verdict::Failed,
                        format!("this computer's clock is {skew} s off the platform's"),
                    )
                    .fix("enable time synchronisation (timedatectl set-ntp true)"),
                ),
                Some(skew) => findings.push(finding(
                    "clock",
                    Verdict::Ok,
                    format!("{skew} s from the platform's clock"),
                )),
                None => findings.push(finding(
                    "clock",
                    Verdict::Warning,
                    "the platform did not give its time (no Date header)",
                )),
            }
        }
        Err(e) => findings.push(
            finding("platform", Verdict::Failed, e.to_string())
                .fix("check the network, the profile's URLs and platform.ca_file"),
        ),
    }
}

/// The human form: one line per finding, fixes indented.
pub fn render(findings: &[Finding]) -> String {
    let mut out = String::new();
    for f in findings {
        let tag = match f.verdict {
            Verdict::Ok => "ok  ",
            Verdict::Warning => "warn",
            Verdict::Failed => "FAIL",
        };
        out.push_str(&format!("{tag}  {:<8} {}\n", f.layer, f.message));
        if let Some(fix) = &f.fix {
            out.push_str(&format!("      {:<8} → {fix}\n", ""));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use dspconnect::ipc::protocol::CardStatus;

    fn with_not_after(not_after: &str) -> CardStatus {
        CardStatus {
            certificate_not_after: Some(not_after.to_owned()),
            ..CardStatus::default()
        }
    }

    #[test]
    fn an_expired_or_expiring_certificate_is_reported() {
        let now = time::macros::datetime!(2026-11-29 12:00 UTC);
        let verdict = |not_after: &str| {
            let mut findings = Vec::new();
            check_certificate(&mut findings, &with_not_after(not_after), now);
            findings.pop().map(|f| (f.verdict, f.message))
        };
        let (v, m) = verdict("2026-11-01T00:00:00Z").unwrap();
        assert_eq!(v, Verdict::Failed, "{m}");
        assert!(m.contains("expired"), "{m}");
        assert_eq!(verdict("2026-12-10T00:00:00Z").unwrap().0, Verdict::Warning);
        assert_eq!(verdict("2028-01-01T00:00:00Z").unwrap().0, Verdict::Ok);
    }
}
