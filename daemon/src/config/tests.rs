use std::path::{Path, PathBuf};
use std::time::Duration;

use dspconnect::model::{Code, ConfidentialityCodeTable, ConfidentialityMode};

use super::*;

/// A folder with a CA and an IdP certificate file (their content is not
/// read by validation, only their presence).
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.pem"), "CA").unwrap();
        std::fs::write(dir.path().join("idp.pem"), "IDP").unwrap();
        Fixture { dir }
    }

    fn path(&self, leaf: &str) -> PathBuf {
        self.dir.path().join(leaf)
    }

    /// A complete production profile, with every optional key set.
    fn production_toml(&self) -> String {
        format!(
            r#"
[platform]
name = "eSanté"
kind = "production"
idp_url = "https://idp.dsp.example/SAML2Server/AuthenticationService"
registry_url = "https://xds.dsp.example/registry"
repository_url = "https://xds.dsp.example/repository"
services_url = "https://dsp.dsp.example/services"
activation_url = "https://dsp.dsp.example/activation"
ca_file = "{ca}"
idp_certificate_file = "{idp}"
repository_unique_id = "1.3.182.4.4.1"
home_community_id = "urn:oid:1.3.182.4.4"
unique_id_root = "1.3.182.4.4.77"
assertion_kind = "bearer"
ehealth_id_authority = "1.3.182.4.4.3"
patient_informed_slot = "urn:lu:esante:patientInformed"
accepts_test_cards = false

[platform.confidentiality_codes]
normal = {{ code = "N", coding_scheme = "1.3.182.4.4.2", display_name = "Normal" }}
restreint = {{ code = "R", coding_scheme = "1.3.182.4.4.2", display_name = "Restreint" }}
prive = {{ code = "P", coding_scheme = "1.3.182.4.4.2", display_name = "Privé" }}
visite_annonce = {{ code = "V", coding_scheme = "1.3.182.4.4.2", display_name = "Visite d'annonce" }}

[platform.defaults]
class_code = {{ code = "C", coding_scheme = "s", display_name = "C" }}
type_code = {{ code = "T", coding_scheme = "s", display_name = "T" }}
format_code = {{ code = "F", coding_scheme = "s", display_name = "F" }}
practice_setting_code = {{ code = "P", coding_scheme = "s", display_name = "P" }}
healthcare_facility_type_code = {{ code = "H", coding_scheme = "s", display_name = "H" }}
language = "fr-LU"

[sandbox]
enabled = false
data_dir = "{state}/sandbox"
port = 8443

[drop_folder]
path = "{state}/drop"
poll_seconds = 5
patient_statement_default = true
keep_sent_days = 7

[session]
idle_timeout_minutes = 30
lock_on_screen_lock = false
renew_before_expiry_seconds = 120

[outbox]
spool_dir = "{state}/outbox"
max_document_bytes = 1000000
retry_base_seconds = 5
retry_max_seconds = 600
max_attempts_for_retryable = 9
keep_done_hours = 24
upload_expiry_minutes = 10
parallel_uploads = 3

[log]
level = "debug"
audit_dir = "{state}/audit"
audit_max_file_bytes = 100000
audit_keep_files = 3

[card]
backend = "pkcs11"
reader = "Cherry"
pkcs11_module = "/usr/lib/vendor/libpkcs11.so"
pkcs11_token_label = "LuxTrust"
"#,
            ca = self.path("ca.pem").display(),
            idp = self.path("idp.pem").display(),
            state = self.dir.path().display(),
        )
    }

    fn parse(&self, text: &str) -> Result<Config, ConfigError> {
        Config::from_toml_str(text, &self.path("dspconnectd.toml"))
    }

    fn production(&self) -> Config {
        self.parse(&self.production_toml()).unwrap()
    }
}

fn problem_keys(err: &ConfigError) -> Vec<String> {
    err.keys().into_iter().map(str::to_owned).collect()
}

#[test]
fn the_default_is_the_embedded_sandbox() {
    let config = Config::default();
    assert!(config.platform.is_none());
    assert!(config.sandbox_enabled());
    assert_eq!(config.session.idle_timeout_minutes, 60);
    assert!(config.outbox.spool_dir.ends_with("dspconnect/outbox"));
    assert!(config.log.audit_dir.ends_with("dspconnect/audit"));
    // An empty file is the same configuration.
    let empty = Config::from_toml_str("", Path::new("x.toml")).unwrap();
    assert_eq!(empty, config);
}

#[test]
fn a_missing_file_is_the_default_only_at_the_default_location() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent.toml");
    let default = Config::load(&ConfigLocation {
        path: path.clone(),
        explicit: false,
    })
    .unwrap();
    assert!(default.sandbox_enabled());
    let err = Config::load(&ConfigLocation {
        path,
        explicit: true,
    })
    .unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }), "{err}");
    assert!(err.to_string().contains("absent.toml"), "{err}");
}

#[test]
fn a_complete_production_profile_parses() {
    let f = Fixture::new();
    let config = f.production();
    let platform = config.platform.as_ref().unwrap();
    assert_eq!(platform.kind, PlatformKind::Production);
    assert!(!config.sandbox_enabled());
    assert_eq!(
        platform
            .confidentiality_codes
            .code_for(ConfidentialityMode::Restreint)
            .code(),
        "R"
    );
    assert_eq!(
        platform
            .confidentiality_codes
            .mode_for("V", "1.3.182.4.4.2")
            .ok(),
        Some(ConfidentialityMode::VisiteAnnonce)
    );
    assert_eq!(config.log.level, LogLevel::Debug);
    assert_eq!(config.outbox.retry_base_seconds, 5);
}

#[test]
fn unknown_keys_are_refused_by_name() {
    let f = Fixture::new();
    let text = f.production_toml().replace(
        "kind = \"production\"",
        "kind = \"production\"\ncolour = \"red\"",
    );
    let err = f.parse(&text).unwrap_err();
    assert_eq!(problem_keys(&err), ["platform.colour"], "{err}");
    assert!(err.to_string().contains("unknown key"), "{err}");
    assert!(err.to_string().contains("line 5"), "{err}");

    let err = f.parse("[outbox]\nretry_base = 3\n").unwrap_err();
    assert_eq!(problem_keys(&err), ["outbox.retry_base"], "{err}");

    let err = f.parse("[logging]\nlevel = \"info\"\n").unwrap_err();
    assert_eq!(problem_keys(&err), ["logging"], "{err}");

    let text = f.production_toml().replace(
        "language = \"fr-LU\"",
        "language = \"fr-LU\"\nauthor = { code = \"x\", scheme = \"y\" }",
    );
    let err = f.parse(&text).unwrap_err();
    assert_eq!(problem_keys(&err), ["platform.defaults.author"], "{err}");
}

#[test]
fn wrong_types_and_missing_keys_are_named() {
    let f = Fixture::new();
    let err = f
        .parse("[session]\nidle_timeout_minutes = \"sixty\"\n")
        .unwrap_err();
    assert_eq!(
        problem_keys(&err),
        ["session.idle_timeout_minutes"],
        "{err}"
    );

    let text = f
        .production_toml()
        .replace("registry_url = \"https://xds.dsp.example/registry\"\n", "");
    let err = f.parse(&text).unwrap_err();
    assert_eq!(problem_keys(&err), ["platform.registry_url"], "{err}");
    assert!(err.to_string().contains("required"), "{err}");

    let err = f.parse("[log]\nlevel = \"loud\"\n").unwrap_err();
    assert_eq!(problem_keys(&err), ["log.level"], "{err}");

    let err = f.parse("[session\n").unwrap_err();
    assert!(matches!(err, ConfigError::Syntax { .. }), "{err}");
}

#[test]
fn only_bearer_assertions_are_accepted_and_the_error_says_why() {
    let f = Fixture::new();
    let text = f.production_toml().replace(
        "assertion_kind = \"bearer\"",
        "assertion_kind = \"holder_of_key\"",
    );
    let err = f.parse(&text).unwrap_err();
    assert_eq!(problem_keys(&err), ["platform.assertion_kind"], "{err}");
    assert!(err.to_string().contains("sign every call"), "{err}");
}

#[test]
fn urls_must_be_https() {
    let f = Fixture::new();
    let text = f.production_toml().replace(
        "https://xds.dsp.example/registry",
        "http://xds.dsp.example/registry",
    );
    let err = f.parse(&text).unwrap_err();
    assert_eq!(problem_keys(&err), ["platform.registry_url"], "{err}");
    assert!(
        err.to_string()
            .contains("platform.registry_url: must be https"),
        "{err}"
    );
}

#[test]
fn a_profile_without_ca_file_is_refused() {
    let f = Fixture::new();
    let ca_line = format!("ca_file = \"{}\"\n", f.path("ca.pem").display());
    let text = f.production_toml().replace(&ca_line, "");
    let err = f.parse(&text).unwrap_err();
    assert_eq!(problem_keys(&err), ["platform.ca_file"], "{err}");
    // A CA file that is not there is refused too.
    let text = f
        .production_toml()
        .replace(&ca_line, "ca_file = \"/nonexistent/ca.pem\"\n");
    let err = f.parse(&text).unwrap_err();
    assert_eq!(problem_keys(&err), ["platform.ca_file"], "{err}");
    let text = f
        .production_toml()
        .replace(&ca_line, "ca_file = \"ca.pem\"\n");
    let err = f.parse(&text).unwrap_err();
    assert!(err.to_string().contains("absolute"), "{err}");
}

#[test]
fn production_refuses_test_cards_and_needs_the_idp_certificate() {
    let f = Fixture::new();
    let text = f
        .production_toml()
        .replace("accepts_test_cards = false", "accepts_test_cards = true");
    let err = f.parse(&text).unwrap_err();
    assert_eq!(problem_keys(&err), ["platform.accepts_test_cards"], "{err}");
    // The same profile of kind sandbox may accept test cards.
    let sandbox = text.replace("kind = \"production\"", "kind = \"sandbox\"");
    assert!(
        f.parse(&sandbox)
            .unwrap()
            .platform
            .unwrap()
            .accepts_test_cards
    );

    let idp_line = format!(
        "idp_certificate_file = \"{}\"\n",
        f.path("idp.pem").display()
    );
    let text = f.production_toml().replace(&idp_line, "");
    let err = f.parse(&text).unwrap_err();
    assert_eq!(
        problem_keys(&err),
        ["platform.idp_certificate_file"],
        "{err}"
    );
}

#[test]
fn two_modes_sharing_a_confidentiality_code_are_refused() {
    let f = Fixture::new();
    let text = f.production_toml().replace("code = \"R\"", "code = \"N\"");
    let err = f.parse(&text).unwrap_err();
    assert_eq!(
        problem_keys(&err),
        ["platform.confidentiality_codes"],
        "{err}"
    );
    let message = err.to_string();
    assert!(
        message.contains("'normal' and 'restreint'") && message.contains("own code"),
        "{message}"
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let f = Fixture::new();
    let text = f
        .production_toml()
        .replace("idle_timeout_minutes = 30", "idle_timeout_minutes = 0")
        .replace("retry_max_seconds = 600", "retry_max_seconds = 2")
        .replace(
            "repository_unique_id = \"1.3.182.4.4.1\"",
            "repository_unique_id = \"repo\"",
        )
        .replace("language = \"fr-LU\"", "language = \"fr_LU\"")
        .replace("parallel_uploads = 3", "parallel_uploads = 0");
    let err = f.parse(&text).unwrap_err();
    let mut keys = problem_keys(&err);
    keys.sort();
    assert_eq!(
        keys,
        [
            "outbox.parallel_uploads",
            "outbox.retry_max_seconds",
            "platform.defaults.language",
            "platform.repository_unique_id",
            "session.idle_timeout_minutes",
        ],
        "{err}"
    );
}

#[test]
fn sandbox_and_platform_exclude_each_other() {
    let f = Fixture::new();
    let text = f
        .production_toml()
        .replace("enabled = false", "enabled = true");
    let err = f.parse(&text).unwrap_err();
    assert_eq!(problem_keys(&err), ["sandbox.enabled"], "{err}");
    let err = f.parse("[sandbox]\nenabled = false\n").unwrap_err();
    assert_eq!(problem_keys(&err), ["sandbox.enabled"], "{err}");
    let text = f.production_toml().replace("enabled = false\n", "");
    assert!(!f.parse(&text).unwrap().sandbox_enabled());
}

#[test]
fn relative_folders_are_refused() {
    let f = Fixture::new();
    let err = f
        .parse("[outbox]\nspool_dir = \"spool\"\n[log]\naudit_dir = \"~/audit\"\n")
        .unwrap_err();
    assert_eq!(
        problem_keys(&err),
        ["outbox.spool_dir", "log.audit_dir"],
        "{err}"
    );
}

#[test]
fn the_sandbox_profile_constructor_validates() {
    let f = Fixture::new();
    let config = Config {
        platform: Some(PlatformProfile::sandbox(
            "https://127.0.0.1:40001/",
            f.path("ca.pem"),
            f.path("idp.pem"),
        )),
        sandbox: SandboxConfig {
            enabled: Some(false),
            ..SandboxConfig::default()
        },
        ..Config::default()
    };
    config.validate().unwrap();
    assert_eq!(
        config.platform.unwrap().registry_url,
        "https://127.0.0.1:40001/xds/registry"
    );
}

#[test]
fn card_settings_are_checked() {
    let f = Fixture::new();
    let text = f
        .production_toml()
        .replace("/usr/lib/vendor/libpkcs11.so", "libpkcs11.so")
        .replace("reader = \"Cherry\"", "reader = \" \"");
    let err = f.parse(&text).unwrap_err();
    assert_eq!(
        problem_keys(&err),
        ["card.pkcs11_module", "card.reader"],
        "{err}"
    );
    let text = f
        .production_toml()
        .replace("pkcs11_module = \"/usr/lib/vendor/libpkcs11.so\"\n", "");
    let err = f.parse(&text).unwrap_err();
    assert_eq!(problem_keys(&err), ["card.pkcs11_module"], "{err}");
    assert!(err.to_string().contains("vendor's PKCS#11 module"), "{err}");
    let text = f
        .production_toml()
        .replace("backend = \"pkcs11\"", "backend = \"smartcard\"");
    let err = f.parse(&text).unwrap_err();
    assert!(err.to_string().contains("card.backend"), "{err}");
}

// ------------------------------------------------------------ key table

#[test]
fn the_key_table_covers_every_key_exactly() {
    let f = Fixture::new();
    let full = f.production();
    let leaves = reload::leaves(&full);
    for leaf in leaves.keys() {
        assert!(
            keys::covering(leaf).is_some(),
            "{leaf} is not in config::keys::KEYS"
        );
    }
    for doc in keys::KEYS {
        assert!(
            leaves
                .keys()
                .any(|l| keys::covering(l).map(|d| d.key) == Some(doc.key)),
            "{} is documented but is no key of Config",
            doc.key
        );
    }
}

#[test]
fn documented_defaults_are_the_real_defaults() {
    let f = Fixture::new();
    // Platform keys have their defaults inside a profile that gives only
    // what is required.
    let minimal_profile = format!(
        r#"[platform]
name = "p"
kind = "sandbox"
idp_url = "https://h/i"
registry_url = "https://h/r"
repository_url = "https://h/p"
services_url = "https://h/s"
activation_url = "https://h/a"
ca_file = "{}"
repository_unique_id = "1.2.3"
patient_informed_slot = "slot"
[platform.confidentiality_codes]
normal = {{ code = "N", coding_scheme = "s", display_name = "N" }}
restreint = {{ code = "R", coding_scheme = "s", display_name = "R" }}
prive = {{ code = "P", coding_scheme = "s", display_name = "P" }}
visite_annonce = {{ code = "V", coding_scheme = "s", display_name = "V" }}
"#,
        f.path("ca.pem").display()
    );
    let mut defaults = reload::leaves(&Config::default());
    defaults.extend(
        reload::leaves(&f.parse(&minimal_profile).unwrap())
            .into_iter()
            .filter(|(k, _)| k.starts_with("platform.")),
    );
    let required_platform_keys = [
        "platform.name",
        "platform.kind",
        "platform.idp_url",
        "platform.registry_url",
        "platform.repository_url",
        "platform.services_url",
        "platform.activation_url",
        "platform.ca_file",
        "platform.repository_unique_id",
        "platform.patient_informed_slot",
    ];
    for doc in keys::KEYS {
        let real = defaults.get(doc.key);
        match doc.default {
            "—" if required_platform_keys.contains(&doc.key)
                || doc.key.starts_with("platform.confidentiality_codes.") => {}
            "—" => assert!(real.is_none(), "{} has default {real:?}", doc.key),
            d if d.starts_with('`') || d.contains(' ') => {} // described in words
            d => {
                let real = real.unwrap_or_else(|| panic!("{} has no default", doc.key));
                let written: toml::Value = toml::from_str(&format!("v = {d}"))
                    .map(|t: toml::Table| t["v"].clone())
                    .unwrap();
                assert_eq!(
                    serde_json::to_value(&written).unwrap(),
                    *real,
                    "{}: documented default {d}",
                    doc.key
                );
            }
        }
    }
}

#[test]
fn configuration_doc_is_current() {
    crate::test_support::check_doc_section(
        "docs/configuration.md",
        "<!-- keys:begin -->",
        "<!-- keys:end -->",
        &keys::render_markdown(),
    );
}

// ------------------------------------------------------------ reload

#[test]
fn diff_of_equal_configs_is_empty() {
    let f = Fixture::new();
    let effect = diff(&f.production(), &f.production());
    assert!(effect.is_empty());
    assert_eq!(effect.to_string(), "no setting changed");
}

#[test]
fn live_settings_are_applied_live() {
    let f = Fixture::new();
    let old = f.production();
    let mut new = old.clone();
    new.log.level = LogLevel::Trace;
    new.session.idle_timeout_minutes = 5;
    new.outbox.retry_base_seconds = 1;
    new.outbox.retry_max_seconds = 60;
    new.drop_folder.poll_seconds = 9;
    new.drop_folder.path = None;
    let effect = diff(&old, &new);
    assert_eq!(
        effect.keys(Applies::Live),
        [
            "drop_folder.path",
            "drop_folder.poll_seconds",
            "session.idle_timeout_minutes",
            "outbox.retry_base_seconds",
            "outbox.retry_max_seconds",
            "log.level",
        ]
    );
    assert!(!effect.ends_session());
    assert!(!effect.needs_restart());
}

#[test]
fn a_platform_change_ends_the_session() {
    let f = Fixture::new();
    let old = f.production();
    let mut new = old.clone();
    let platform = new.platform.as_mut().unwrap();
    platform.registry_url = "https://other.example/registry".into();
    let codes = &platform.confidentiality_codes;
    let with_new_prive = |mode| match mode {
        ConfidentialityMode::Prive => Code::new("PR", "1.3.182.4.4.2", "Privé").unwrap(),
        other => codes.code_for(other).clone(),
    };
    platform.confidentiality_codes = ConfidentialityCodeTable::new(
        with_new_prive(ConfidentialityMode::Normal),
        with_new_prive(ConfidentialityMode::Restreint),
        with_new_prive(ConfidentialityMode::Prive),
        with_new_prive(ConfidentialityMode::VisiteAnnonce),
    )
    .unwrap();
    platform.defaults.class_code = None;
    let effect = diff(&old, &new);
    assert_eq!(
        effect.keys(Applies::EndsSession),
        [
            "platform.registry_url",
            "platform.confidentiality_codes.prive",
            "platform.defaults.class_code",
        ]
    );
    assert!(effect.ends_session());
    assert!(
        effect
            .to_string()
            .contains("ends the session: platform.registry_url")
    );
}

#[test]
fn other_settings_need_a_restart() {
    let f = Fixture::new();
    let old = f.production();
    let mut new = old.clone();
    new.outbox.spool_dir = f.path("elsewhere");
    new.log.audit_keep_files = 4;
    new.session.lock_on_screen_lock = true;
    let effect = diff(&old, &new);
    assert_eq!(
        effect.keys(Applies::NeedsRestart),
        [
            "session.lock_on_screen_lock",
            "outbox.spool_dir",
            "log.audit_keep_files"
        ]
    );
    assert!(effect.needs_restart());
    assert!(!effect.ends_session());
}

#[test]
fn switching_between_sandbox_and_platform_is_both() {
    let f = Fixture::new();
    let production = f.production();
    let mut sandbox = production.clone();
    sandbox.platform = None;
    sandbox.sandbox.enabled = None;
    let effect = diff(&production, &sandbox);
    assert!(effect.ends_session());
    assert!(
        effect
            .keys(Applies::NeedsRestart)
            .contains(&"sandbox.enabled")
    );
    assert!(effect.keys(Applies::EndsSession).contains(&"platform.name"));
}

// ------------------------------------------------------------ watcher

async fn next_event(
    rx: &mut tokio::sync::mpsc::Receiver<watch::ReloadEvent>,
) -> watch::ReloadEvent {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("a reload event within 10 s")
        .expect("watcher alive")
}

#[tokio::test]
async fn the_watcher_reloads_refuses_and_recovers() {
    let f = Fixture::new();
    let path = f.path("dspconnectd.toml");
    let text = f.production_toml();
    std::fs::write(&path, &text).unwrap();
    let location = ConfigLocation {
        path: path.clone(),
        explicit: true,
    };
    let running = Config::load(&location).unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::channel(8);
    let _watcher = watch::watch(&location, running, tx).unwrap();

    // A live change.
    std::fs::write(&path, text.replace("level = \"debug\"", "level = \"warn\"")).unwrap();
    let (config, effect) = next_event(&mut rx).await.unwrap();
    assert_eq!(config.log.level, LogLevel::Warn);
    assert_eq!(effect.keys(Applies::Live), ["log.level"]);

    // An invalid file is refused and says why; the running config stays.
    std::fs::write(
        &path,
        text.replace(
            "https://xds.dsp.example/registry",
            "http://xds.dsp.example/registry",
        ),
    )
    .unwrap();
    let err = next_event(&mut rx).await.unwrap_err();
    assert_eq!(err.keys(), ["platform.registry_url"], "{err}");

    // Replaced by rename, as editors do: the diff is against the last
    // accepted configuration (level = warn), not the refused one.
    let tmp = f.path("dspconnectd.toml.new");
    std::fs::write(
        &tmp,
        text.replace("level = \"debug\"", "level = \"warn\"")
            .replace("name = \"eSanté\"", "name = \"eSanté 2\""),
    )
    .unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    let (config, effect) = next_event(&mut rx).await.unwrap();
    assert_eq!(config.platform.unwrap().name, "eSanté 2");
    assert_eq!(effect.keys(Applies::EndsSession), ["platform.name"]);
    assert!(effect.keys(Applies::Live).is_empty());
}
