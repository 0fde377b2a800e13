//! Every configuration key: its default, whether a change applies live,
//! and what it means. The reload [`diff`](super::diff) classifies changes
//! with this table, and `docs/configuration.md` is rendered from it (a test
//! checks that the document is current and that the table covers every key
//! of [`Config`](super::Config)).

use super::reload::Applies;

/// One documented key. A key naming a table (`platform.defaults.class_code`)
/// covers every key below it.
#[derive(Debug, Clone, Copy)]
pub struct KeyDoc {
    pub key: &'static str,
    /// The default as written in TOML; `—` when the key has no default
    /// (required, or absent means "off"), or a description in words.
    pub default: &'static str,
    pub applies: Applies,
    pub meaning: &'static str,
}

const fn key(
    key: &'static str,
    default: &'static str,
    applies: Applies,
    meaning: &'static str,
) -> KeyDoc {
    KeyDoc {
        key,
        default,
        applies,
        meaning,
    }
}

use Applies::{EndsSession as S, Live as L, NeedsRestart as R};

/// The table. Order is the order of the documentation.
pub const KEYS: &[KeyDoc] = &[
    key(
        "platform.name",
        "—",
        S,
        "Profile name shown in status, tray and logs. Without a `[platform]` section the embedded sandbox runs.",
    ),
    key(
        "platform.kind",
        "—",
        S,
        "`\"sandbox\"` or `\"production\"`. Only a sandbox profile may accept test cards.",
    ),
    key(
        "platform.idp_url",
        "—",
        S,
        "IdP authentication service (`…/SAML2Server/AuthenticationService`); https only.",
    ),
    key(
        "platform.registry_url",
        "—",
        S,
        "XDS.b registry (ITI-18, ITI-57); https only.",
    ),
    key(
        "platform.repository_url",
        "—",
        S,
        "XDS.b repository (ITI-41, ITI-43); https only.",
    ),
    key(
        "platform.services_url",
        "—",
        S,
        "DSP services: presence code, portal ticket, anomaly report, HPD, password change; https only.",
    ),
    key(
        "platform.activation_url",
        "—",
        S,
        "Account activation and password reset; https only.",
    ),
    key(
        "platform.ca_file",
        "—",
        S,
        "Required. CA certificate (PEM) the platform's TLS certificate must chain to: the only trust anchor, no system roots.",
    ),
    key(
        "platform.idp_certificate_file",
        "—",
        S,
        "IdP signing certificate (PEM). Required for a production profile.",
    ),
    key(
        "platform.repository_unique_id",
        "—",
        S,
        "The repository's OID (`RepositoryUniqueId`).",
    ),
    key(
        "platform.home_community_id",
        "—",
        S,
        "Optional `urn:oid:…` home community id.",
    ),
    key(
        "platform.unique_id_root",
        "—",
        S,
        "OID root (at most 24 characters) for the uniqueIds given to documents and submission sets; absent: UUID-derived OIDs under `2.25`.",
    ),
    key(
        "platform.assertion_kind",
        "\"bearer\"",
        S,
        "How assertions are used on later calls. Only `\"bearer\"` is accepted: one card signature per assertion; a holder-of-key platform would need the card to sign every call.",
    ),
    key(
        "platform.ehealth_id_authority",
        "—",
        S,
        "Assigning authority (OID) of eHealth ids in `authorPerson`; required for a production profile (sandbox: `1.3.182.4.4.99.2`).",
    ),
    key(
        "platform.patient_informed_slot",
        "—",
        S,
        "DocumentEntry slot carrying the statement that the patient was informed and agrees (sandbox: `urn:dspconnect:sandbox:patientInformed`).",
    ),
    key(
        "platform.confidentiality_codes.normal",
        "—",
        S,
        "Code of « Normal »: a table `{ code, scheme, display }`.",
    ),
    key(
        "platform.confidentiality_codes.restreint",
        "—",
        S,
        "Code of « Restreint »: `{ code, scheme, display }`.",
    ),
    key(
        "platform.confidentiality_codes.prive",
        "—",
        S,
        "Code of « Privé »: `{ code, scheme, display }`.",
    ),
    key(
        "platform.confidentiality_codes.visite_annonce",
        "—",
        S,
        "Code of « Visite d'annonce »: `{ code, scheme, display }`.",
    ),
    key(
        "platform.defaults.class_code",
        "—",
        S,
        "classCode used when a push gives none: `{ code, scheme, display }`.",
    ),
    key(
        "platform.defaults.type_code",
        "—",
        S,
        "typeCode used when a push gives none.",
    ),
    key(
        "platform.defaults.format_code",
        "—",
        S,
        "formatCode used when a push gives none.",
    ),
    key(
        "platform.defaults.practice_setting_code",
        "—",
        S,
        "practiceSettingCode used when a push gives none.",
    ),
    key(
        "platform.defaults.healthcare_facility_type_code",
        "—",
        S,
        "healthcareFacilityTypeCode used when a push gives none.",
    ),
    key(
        "platform.defaults.language",
        "—",
        S,
        "languageCode (BCP 47, e.g. `fr-LU`) used when a push gives none.",
    ),
    key(
        "platform.accepts_test_cards",
        "false",
        S,
        "Whether sandbox test cards may authenticate; must be false for a production profile.",
    ),
    key(
        "sandbox.enabled",
        "true without `[platform]`, else false",
        R,
        "Run the sandbox in-process on 127.0.0.1. Cannot be true together with a `[platform]` profile.",
    ),
    key(
        "sandbox.data_dir",
        "`$XDG_DATA_HOME/dspconnect/sandbox`",
        R,
        "The embedded sandbox's database and test PKI.",
    ),
    key(
        "sandbox.port",
        "0",
        R,
        "TCP port of the embedded sandbox; 0 picks a free one.",
    ),
    key(
        "drop_folder.path",
        "—",
        L,
        "Folder watched for documents and their `.dsp.json` sidecars; absent: no drop folder. Refused if other users can write to it.",
    ),
    key(
        "drop_folder.poll_seconds",
        "2",
        L,
        "Polling period (1–3600) for file systems without change notification.",
    ),
    key(
        "drop_folder.patient_statement_default",
        "false",
        L,
        "Whether a sidecar that says nothing about it carries the statement that the patient was informed and agrees. Off: every sidecar must state it.",
    ),
    key(
        "drop_folder.keep_sent_days",
        "30",
        L,
        "Days (0–3650) copies in `sent/` are kept.",
    ),
    key(
        "drop_folder.watch",
        "\"events\"",
        L,
        "`\"events\"` (file-system notifications, plus a rescan every `poll_seconds`) or `\"poll\"` (polling only, for network shares).",
    ),
    key(
        "drop_folder.settle_ms",
        "2000",
        L,
        "A file unchanged (size and modification time) for this long (100–600000 ms) is complete even without a close-after-write event.",
    ),
    key(
        "drop_folder.orphan_wait_seconds",
        "120",
        L,
        "A document without its sidecar, or a sidecar without its document, fails after this long (1–86400 s).",
    ),
    key(
        "drop_folder.duplicate_window_days",
        "365",
        L,
        "The same content for the same patient is not sent again within this many days (0–3650); kept in the journal independently of `keep_sent_days`.",
    ),
    key(
        "drop_folder.allow_writable_by_others",
        "false",
        L,
        "Accept a drop folder other users can write to (network shares with fixed 0777 modes); a warning is logged.",
    ),
    key(
        "session.idle_timeout_minutes",
        "60",
        L,
        "Lock the session after this long (1–1440) without a request on behalf of the user.",
    ),
    key(
        "session.lock_on_screen_lock",
        "true",
        R,
        "Lock the session when the desktop's screen locks (logind / ScreenSaver on D-Bus).",
    ),
    key(
        "session.renew_before_expiry_seconds",
        "300",
        R,
        "Renew the platform assertion this long (30–1800) before it expires.",
    ),
    key(
        "outbox.spool_dir",
        "`$XDG_STATE_HOME/dspconnect/outbox`",
        R,
        "The durable outbox (0700; refused if other users have access). See docs/outbox.md.",
    ),
    key(
        "outbox.max_document_bytes",
        "268435456",
        L,
        "Largest document accepted for a push (256 MiB).",
    ),
    key(
        "outbox.retry_base_seconds",
        "30",
        L,
        "First delay before retrying a temporary failure; doubled on each attempt.",
    ),
    key(
        "outbox.retry_max_seconds",
        "3600",
        L,
        "Longest delay between retries.",
    ),
    key(
        "outbox.max_attempts_for_retryable",
        "50",
        L,
        "A job failing only temporarily stops (Failed, can be retried by the user) after this many attempts.",
    ),
    key(
        "outbox.keep_done_hours",
        "168",
        L,
        "Hours a registered job's record stays for `job.status` (its content is removed at once).",
    ),
    key(
        "outbox.upload_expiry_minutes",
        "60",
        L,
        "A chunked upload not used within this time (1–1440) is removed.",
    ),
    key(
        "outbox.parallel_uploads",
        "2",
        L,
        "Uploads (1–8) of the professional's jobs under way at once: with a distant platform, one waits for its answer while the next is sent. Registration order then follows enqueue order only roughly; a replacement always waits for the document it replaces.",
    ),
    key(
        "log.level",
        "\"info\"",
        L,
        "`error`, `warn`, `info`, `debug` or `trace`.",
    ),
    key(
        "log.audit_dir",
        "`$XDG_STATE_HOME/dspconnect/audit`",
        R,
        "The audit log (JSON lines, 0600 files in a 0700 folder).",
    ),
    key(
        "log.audit_max_file_bytes",
        "10485760",
        R,
        "The audit file is rotated before it grows past this size (10 MiB).",
    ),
    key(
        "log.audit_keep_files",
        "10",
        R,
        "Audit files kept, the current one included.",
    ),
    key(
        "tray.enabled",
        "true",
        R,
        "Show the system-tray item (StatusNotifierItem) and send desktop notifications.",
    ),
    key(
        "tray.notify_successes",
        "false",
        L,
        "Notify each registered upload too; failures, card removal and session expiry are always notified.",
    ),
    key(
        "tray.visite_annonce_reminder_days",
        "7",
        L,
        "Remind the professional of their documents still in Visite d'annonce after this many days (0–365; 0: never).",
    ),
    key(
        "card.backend",
        "\"auto\"",
        R,
        "`\"auto\"`: the software card when the embedded sandbox runs, else PKCS#11 when `card.pkcs11_module` is set (the card vendor's middleware is the production default), else PC/SC. `\"pcsc\"`: PC/SC readers with the (experimental) LuxTrust APDU profile. `\"pkcs11\"`: the configured module. See docs/card.md.",
    ),
    key(
        "card.reader",
        "—",
        R,
        "PC/SC: watch only readers whose name contains this text (default: every reader; the session follows the first LuxTrust card).",
    ),
    key(
        "card.pkcs11_module",
        "—",
        R,
        "The card vendor's PKCS#11 module (absolute path to the `.so`/`.dll`).",
    ),
    key(
        "card.pkcs11_token_label",
        "—",
        R,
        "PKCS#11: the token to use, by label (default: the first token holding an authentication certificate and its key).",
    ),
];

/// The table entry covering a dotted key: the key itself or its nearest
/// documented parent.
pub fn covering(leaf: &str) -> Option<&'static KeyDoc> {
    KEYS.iter()
        .filter(|d| {
            leaf == d.key
                || leaf
                    .strip_prefix(d.key)
                    .is_some_and(|rest| rest.starts_with('.'))
        })
        .max_by_key(|d| d.key.len())
}

/// The Markdown table of `docs/configuration.md`.
pub fn render_markdown() -> String {
    let mut out = String::from("| key | default | on change | meaning |\n|---|---|---|---|\n");
    for d in KEYS {
        let default = if d.default == "—" || d.default.starts_with('`') || d.default.contains(' ')
        {
            d.default.to_owned()
        } else {
            format!("`{}`", d.default)
        };
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            d.key,
            default,
            d.applies.describe(),
            d.meaning
        ));
    }
    out
}
