//! The rules a parsed configuration must follow. Each broken rule is a
//! [`Problem`] naming the key and saying what to do.

use std::path::Path;

use super::platform::{PlatformKind, PlatformProfile};
use super::{Config, Problem};

/// The longest uniqueId XDS allows (ITI TF-3 4.2.3.2.26: an OID of at most 64 characters).
const MAX_UNIQUE_ID_LEN: usize = 64;
/// Digits of the largest 128-bit UUID written in decimal (2^128 - 1).
const UUID_DECIMAL_DIGITS: usize = 39;

pub(super) fn check(config: &Config) -> Vec<Problem> {
    let mut p = Vec::new();
    if let Some(platform) = &config.platform {
        check_platform(platform, &mut p);
    }
    check_sandbox(config, &mut p);
    check_drop_folder(config, &mut p);
    check_session(config, &mut p);
    check_outbox(config, &mut p);
    check_log(config, &mut p);
    check_card(config, &mut p);
    p
}

fn check_card(config: &Config, p: &mut Vec<Problem>) {
    let card = &config.card;
    if let Some(module) = &card.pkcs11_module
        && !module.is_absolute()
    {
        p.push(Problem::new(
            "card.pkcs11_module",
            format!(
                "'{}' must be an absolute path to the vendor's PKCS#11 module (a relative one \
                 would be looked up in the library path, which an attacker may control)",
                module.display()
            ),
        ));
    }
    if card.backend == super::CardBackendKind::Pkcs11 && card.pkcs11_module.is_none() {
        p.push(Problem::new(
            "card.pkcs11_module",
            "is required with card.backend = \"pkcs11\": set the path of the card vendor's \
             PKCS#11 module",
        ));
    }
    if card.reader.as_deref().is_some_and(|r| r.trim().is_empty()) {
        p.push(Problem::new(
            "card.reader",
            "is empty: remove it to watch every reader, or give part of a reader's name",
        ));
    }
}

fn check_platform(platform: &PlatformProfile, p: &mut Vec<Problem>) {
    let key = |k: &str| format!("platform.{k}");
    if platform.name.trim().is_empty() || platform.name.len() > 64 {
        p.push(Problem::new(
            key("name"),
            "must be 1 to 64 characters (it is shown in status and logs)",
        ));
    }
    for (name, value) in platform.endpoints() {
        if let Err(why) = check_https_url(value) {
            p.push(Problem::new(key(name), why));
        }
    }
    match &platform.ca_file {
        None => p.push(Problem::new(
            key("ca_file"),
            "required: the platform's CA certificate is pinned and no system trust store is \
             used; name the CA file (PEM) of this platform",
        )),
        Some(path) => check_existing_file(&key("ca_file"), path, p),
    }
    match &platform.idp_certificate_file {
        None if platform.kind == PlatformKind::Production => p.push(Problem::new(
            key("idp_certificate_file"),
            "required for a production profile: name the IdP's signing certificate (PEM)",
        )),
        None => {}
        Some(path) => check_existing_file(&key("idp_certificate_file"), path, p),
    }
    if !is_oid(&platform.repository_unique_id) {
        p.push(Problem::new(
            key("repository_unique_id"),
            "must be an OID (digits separated by dots, e.g. 1.3.182.4.4.99.1)",
        ));
    }
    if let Some(hcid) = &platform.home_community_id
        && !hcid.strip_prefix("urn:oid:").is_some_and(is_oid)
    {
        p.push(Problem::new(
            key("home_community_id"),
            "must be urn:oid: followed by an OID",
        ));
    }
    if let Some(root) = &platform.unique_id_root {
        let longest = MAX_UNIQUE_ID_LEN - 1 - UUID_DECIMAL_DIGITS;
        if !is_oid(root) || root.len() > longest {
            p.push(Problem::new(
                key("unique_id_root"),
                format!(
                    "must be an OID of at most {longest} characters, so that root.<uuid as a \
                     number> stays within XDS's 64-character uniqueId"
                ),
            ));
        }
    }
    match &platform.ehealth_id_authority {
        Some(authority) if !is_oid(authority) => p.push(Problem::new(
            key("ehealth_id_authority"),
            "must be an OID (the assigning authority of eHealth ids)",
        )),
        None if platform.kind == PlatformKind::Production => p.push(Problem::new(
            key("ehealth_id_authority"),
            "is required for a production profile: the OID under which the platform's \
             eHealth ids are issued (ask the Agence eSanté)",
        )),
        _ => {}
    }
    if platform.patient_informed_slot.is_empty()
        || platform
            .patient_informed_slot
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
    {
        p.push(Problem::new(
            key("patient_informed_slot"),
            "must be a slot name without spaces",
        ));
    }
    let d = &platform.defaults;
    if let Some(lang) = &d.language
        && !is_language_tag(lang)
    {
        p.push(Problem::new(
            key("defaults.language"),
            "must be a BCP 47 language tag such as fr-LU, de-LU or lb",
        ));
    }
    if platform.kind == PlatformKind::Production && platform.accepts_test_cards {
        p.push(Problem::new(
            key("accepts_test_cards"),
            "must be false for a production profile: sandbox test cards never reach the real DSP",
        ));
    }
}

fn check_sandbox(config: &Config, p: &mut Vec<Problem>) {
    match (config.sandbox.enabled, &config.platform) {
        (Some(true), Some(_)) => p.push(Problem::new(
            "sandbox.enabled",
            "true while a [platform] profile is configured: the daemon talks to one platform; \
             remove [platform] to use the embedded sandbox, or set this to false",
        )),
        (Some(false), None) => p.push(Problem::new(
            "sandbox.enabled",
            "false while no [platform] profile is configured: there would be no platform at \
             all; configure [platform] or remove this line",
        )),
        _ => {}
    }
    if config.sandbox_enabled() {
        check_absolute_dir("sandbox.data_dir", &config.sandbox.data_dir, p);
    }
}

fn check_drop_folder(config: &Config, p: &mut Vec<Problem>) {
    let d = &config.drop_folder;
    if let Some(path) = &d.path {
        check_absolute_dir("drop_folder.path", path, p);
    }
    check_range(
        "drop_folder.poll_seconds",
        d.poll_seconds.into(),
        1,
        3600,
        p,
    );
    check_range(
        "drop_folder.keep_sent_days",
        d.keep_sent_days.into(),
        0,
        3650,
        p,
    );
    check_range("drop_folder.settle_ms", d.settle_ms.into(), 100, 600_000, p);
    check_range(
        "tray.visite_annonce_reminder_days",
        config.tray.visite_annonce_reminder_days.into(),
        0,
        365,
        p,
    );
    check_range(
        "drop_folder.orphan_wait_seconds",
        d.orphan_wait_seconds.into(),
        1,
        86_400,
        p,
    );
    check_range(
        "drop_folder.duplicate_window_days",
        d.duplicate_window_days.into(),
        0,
        3650,
        p,
    );
}

fn check_session(config: &Config, p: &mut Vec<Problem>) {
    let s = &config.session;
    check_range(
        "session.idle_timeout_minutes",
        s.idle_timeout_minutes.into(),
        1,
        1440,
        p,
    );
    check_range(
        "session.renew_before_expiry_seconds",
        s.renew_before_expiry_seconds.into(),
        30,
        1800,
        p,
    );
}

fn check_outbox(config: &Config, p: &mut Vec<Problem>) {
    let o = &config.outbox;
    check_absolute_dir("outbox.spool_dir", &o.spool_dir, p);
    check_range(
        "outbox.max_document_bytes",
        o.max_document_bytes,
        1,
        16 * 1024 * 1024 * 1024,
        p,
    );
    check_range(
        "outbox.retry_base_seconds",
        o.retry_base_seconds.into(),
        1,
        3600,
        p,
    );
    check_range(
        "outbox.retry_max_seconds",
        o.retry_max_seconds.into(),
        1,
        86_400,
        p,
    );
    if o.retry_max_seconds < o.retry_base_seconds {
        p.push(Problem::new(
            "outbox.retry_max_seconds",
            "must not be smaller than outbox.retry_base_seconds",
        ));
    }
    check_range(
        "outbox.max_attempts_for_retryable",
        o.max_attempts_for_retryable.into(),
        1,
        10_000,
        p,
    );
    check_range(
        "outbox.keep_done_hours",
        o.keep_done_hours.into(),
        0,
        8760,
        p,
    );
    check_range(
        "outbox.upload_expiry_minutes",
        o.upload_expiry_minutes.into(),
        1,
        1440,
        p,
    );
    check_range(
        "outbox.parallel_uploads",
        o.parallel_uploads.into(),
        1,
        8,
        p,
    );
}

fn check_log(config: &Config, p: &mut Vec<Problem>) {
    let l = &config.log;
    check_absolute_dir("log.audit_dir", &l.audit_dir, p);
    check_range(
        "log.audit_max_file_bytes",
        l.audit_max_file_bytes,
        4096,
        1024 * 1024 * 1024,
        p,
    );
    check_range(
        "log.audit_keep_files",
        l.audit_keep_files.into(),
        1,
        1000,
        p,
    );
}

fn check_range(key: &str, value: u64, min: u64, max: u64, p: &mut Vec<Problem>) {
    if value < min || value > max {
        p.push(Problem::new(
            key,
            format!("{value} is out of range: use {min} to {max}"),
        ));
    }
}

fn check_absolute_dir(key: &str, path: &Path, p: &mut Vec<Problem>) {
    if path.as_os_str().is_empty() {
        p.push(Problem::new(
            key,
            "has no default here (neither the XDG_* variable nor HOME is set): set it to an \
             absolute path",
        ));
    } else if !path.is_absolute() {
        p.push(Problem::new(
            key,
            format!(
                "'{}' must be an absolute path (no ~ expansion)",
                path.display()
            ),
        ));
    }
}

fn check_existing_file(key: &str, path: &Path, p: &mut Vec<Problem>) {
    if !path.is_absolute() {
        p.push(Problem::new(
            key,
            format!(
                "'{}' must be an absolute path (no ~ expansion)",
                path.display()
            ),
        ));
    } else if !path.is_file() {
        p.push(Problem::new(
            key,
            format!("'{}' is not a readable file", path.display()),
        ));
    }
}

/// `https://host[:port]/path`, no credentials, no fragment.
pub(crate) fn check_https_url(value: &str) -> Result<(), String> {
    let url = url::Url::parse(value).map_err(|e| format!("'{value}' is not a URL ({e})"))?;
    if url.scheme() != "https" {
        return Err(format!(
            "must be https (got {}://): the platform is only spoken to over TLS",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("has no host".to_owned());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry a user name or password".to_owned());
    }
    if url.fragment().is_some() {
        return Err("must not have a #fragment".to_owned());
    }
    Ok(())
}

/// Digits separated by single dots, no leading zeros in an arc (ISO 8824).
pub(crate) fn is_oid(s: &str) -> bool {
    let arcs: Vec<&str> = s.split('.').collect();
    arcs.len() >= 2
        && arcs.iter().all(|arc| {
            !arc.is_empty()
                && arc.bytes().all(|b| b.is_ascii_digit())
                && (arc.len() == 1 || !arc.starts_with('0'))
        })
}

/// A loose BCP 47 check: 2–3 letter language, then 1–8 alphanumeric subtags.
pub(crate) fn is_language_tag(s: &str) -> bool {
    let mut parts = s.split('-');
    let primary_ok = parts
        .next()
        .is_some_and(|l| (2..=3).contains(&l.len()) && l.bytes().all(|b| b.is_ascii_alphabetic()));
    primary_ok
        && parts.all(|t| (1..=8).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_alphanumeric()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oids() {
        for good in ["1.3.182.4.4", "2.25.0", "1.3.182.4.4.99.1"] {
            assert!(is_oid(good), "{good}");
        }
        for bad in ["", "1", "1..2", "1.02", "1.a", ".1.2", "1.2."] {
            assert!(!is_oid(bad), "{bad}");
        }
    }

    #[test]
    fn urls() {
        assert!(check_https_url("https://127.0.0.1:8443/xds/registry").is_ok());
        assert!(
            check_https_url("http://dsp.example/x")
                .unwrap_err()
                .contains("must be https")
        );
        assert!(check_https_url("https://u:p@dsp.example/").is_err());
        assert!(check_https_url("https://dsp.example/#x").is_err());
        assert!(check_https_url("not a url").is_err());
    }

    #[test]
    fn language_tags() {
        for good in ["fr-LU", "lb", "de", "en-GB"] {
            assert!(is_language_tag(good), "{good}");
        }
        for bad in ["", "f", "fr_LU", "french-luxembourg-xxxxxxxxx", "fr-"] {
            assert!(!is_language_tag(bad), "{bad}");
        }
    }
}
