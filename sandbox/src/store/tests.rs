//! The store against a real SQLite database (files in a temporary directory,
//! or in memory).

use dspconnect::model::ConfidentialityMode;
use time::{Duration, OffsetDateTime};

use super::demo::*;
use super::*;
use crate::pki::{CertificateSerial, Fingerprint};
use crate::policy::{
    self, AccompagnateurId, EHealthId, Operation, PatientId, ProfessionalStatus, Role, RoleSet,
    Subject,
};

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
}

fn id(text: &str) -> EHealthId {
    EHealthId::new(text).unwrap()
}

fn patient(text: &str) -> PatientId {
    PatientId::new(text).unwrap()
}

fn seeded() -> Store {
    let store = Store::open_in_memory().unwrap();
    let seed = store.seed_demo(now()).unwrap();
    assert!(seed.seeded);
    store
}

fn new_document(
    entry: &str,
    unique_id: &str,
    author: &str,
    mode: ConfidentialityMode,
) -> NewDocument {
    NewDocument {
        entry_uuid: entry.into(),
        unique_id: unique_id.into(),
        patient: patient(DEMO_PATIENT_WITH_RELATIONS),
        author: id(author),
        mode,
        metadata: b"<rim:ExtrinsicObject/>".to_vec(),
        body_path: format!("documents/{entry}.pdf"),
        hash: "da39a3ee5e6b4b0d3255bfef95601890afd80709".into(),
        size: 0,
        mime_type: "application/pdf".into(),
    }
}

#[test]
fn a_fresh_database_migrates_and_reopening_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sandbox.sqlite3");
    let store = Store::open(&path).unwrap();
    assert_eq!(
        store.schema_version().unwrap(),
        migrations::latest_version()
    );
    assert!(migrations::latest_version() >= 1);
    store.seed_demo(now()).unwrap();
    drop(store);

    let again = Store::open(&path).unwrap();
    assert_eq!(
        again.schema_version().unwrap(),
        migrations::latest_version()
    );
    // Data survived, and the second seed does nothing.
    assert_eq!(
        again.professionals().unwrap().len(),
        DEMO_PROFESSIONALS.len()
    );
    let second = again.seed_demo(now()).unwrap();
    assert!(!second.seeded && second.activation_code.is_none());
    assert_eq!(
        again.professionals().unwrap().len(),
        DEMO_PROFESSIONALS.len()
    );

    // The file is in WAL mode.
    let raw = rusqlite::Connection::open(&path).unwrap();
    let mode: String = raw
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn a_database_from_a_newer_build_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sandbox.sqlite3");
    drop(Store::open(&path).unwrap());
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.execute_batch("PRAGMA user_version = 999").unwrap();
    drop(raw);
    match Store::open(&path) {
        Err(StoreError::NewerSchema { found: 999, known }) => {
            assert_eq!(known, migrations::latest_version())
        }
        other => panic!("expected NewerSchema, got {other:?}"),
    }
}

#[test]
fn demo_data_gives_each_situation_of_the_charter() {
    let store = Store::open_in_memory().unwrap();
    let seed = store.seed_demo(now()).unwrap();
    let marie = patient(DEMO_PATIENT_WITH_RELATIONS);
    let relations = store.relations(&marie).unwrap();
    assert_eq!(relations.referent, Some(id(DEMO_REFERENT_GP)));
    assert_eq!(relations.cercle, vec![id(DEMO_CERCLE_SPECIALIST)]);
    assert_eq!(relations.black_list, vec![id(DEMO_BLACK_LISTED)]);
    assert_eq!(
        relations.accompagnateurs,
        vec![AccompagnateurId::new(DEMO_ACCOMPAGNATEUR).unwrap()]
    );
    let tom = store
        .relations(&patient(DEMO_PATIENT_WITHOUT_RELATIONS))
        .unwrap();
    assert_eq!(
        tom,
        policy::PatientRelations::none(patient(DEMO_PATIENT_WITHOUT_RELATIONS))
    );

    let pending = store
        .professional(&id(DEMO_PENDING_ACTIVATION))
        .unwrap()
        .unwrap();
    assert_eq!(pending.status, ProfessionalStatus::PendingActivation);
    assert!(!pending.has_password);
    let pharmacist = store.professional(&id(DEMO_PHARMACIST)).unwrap().unwrap();
    assert_eq!(pharmacist.status, ProfessionalStatus::Active);
    assert_eq!(pharmacist.full_name(), "Claire Muller");

    // Documented passwords work; others do not.
    assert!(
        store
            .check_patient_password(&marie, DEMO_PATIENT_PASSWORD)
            .unwrap()
    );
    assert!(!store.check_patient_password(&marie, "wrong").unwrap());
    let jean = AccompagnateurId::new(DEMO_ACCOMPAGNATEUR).unwrap();
    assert!(
        store
            .check_accompagnateur_password(&jean, DEMO_ACCOMPAGNATEUR_PASSWORD)
            .unwrap()
    );
    assert_eq!(
        store.patients_accompanied_by(&jean).unwrap(),
        vec![marie.clone()]
    );
    let gp = DEMO_PROFESSIONALS[0];
    let login = store
        .check_professional_password(gp.matricule, DEMO_PROFESSIONAL_PASSWORD)
        .unwrap()
        .unwrap();
    assert_eq!(login.ehealth_id, id(DEMO_REFERENT_GP));
    assert!(
        store
            .check_professional_password(gp.matricule, "nope")
            .unwrap()
            .is_none()
    );

    // The activation letter: code returned once, only its hash stored.
    let code = seed
        .activation_code
        .expect("a letter for the pending professional");
    let letter = store
        .check_activation_letter(DEMO_PROFESSIONALS[4].matricule, code.expose(), now())
        .unwrap();
    assert!(
        matches!(letter, LetterCheck::Valid(ref l) if l.ehealth_id == id(DEMO_PENDING_ACTIVATION))
    );
    let stored: Vec<String> = store
        .with(|c| {
            let mut s = c
                .prepare("SELECT code_hash FROM activation_letters")
                .unwrap();
            Ok(s.query_map([], |r| r.get(0))
                .unwrap()
                .map(|r| r.unwrap())
                .collect())
        })
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert!(stored[0].starts_with("$argon2id$") && !stored[0].contains(code.expose()));
}

#[test]
fn activation_letters_tell_each_wrong_input_apart() {
    let store = seeded();
    let pending = id(DEMO_PENDING_ACTIVATION);
    let matricule = DEMO_PROFESSIONALS[4].matricule;
    let code = store
        .issue_activation_letter(&pending, now(), Duration::days(1))
        .unwrap();

    assert_eq!(
        store
            .check_activation_letter(matricule, "AAAA-BBBB-CCCC", now())
            .unwrap(),
        LetterCheck::CodeInvalid
    );
    assert_eq!(
        store
            .check_activation_letter(DEMO_PROFESSIONALS[0].matricule, code.expose(), now())
            .unwrap(),
        LetterCheck::MatriculeMismatch
    );
    assert_eq!(
        store
            .check_activation_letter(matricule, code.expose(), now() + Duration::days(1))
            .unwrap(),
        LetterCheck::Expired
    );
    let LetterCheck::Valid(letter) = store
        .check_activation_letter(matricule, code.expose(), now())
        .unwrap()
    else {
        panic!("the letter should be valid");
    };
    store.mark_activation_letter_used(letter.id, now()).unwrap();
    assert_eq!(
        store
            .check_activation_letter(matricule, code.expose(), now())
            .unwrap(),
        LetterCheck::Used
    );
    assert!(matches!(
        store.mark_activation_letter_used(letter.id, now()),
        Err(StoreError::NotFound { .. })
    ));
}

#[test]
fn card_certificates_bind_once_and_can_be_revoked() {
    let store = seeded();
    let gp = id(DEMO_REFERENT_GP);
    let fingerprint = Fingerprint::of_der(b"certificate of Anne Weber");
    let serial = CertificateSerial::from_hex("0a1b").unwrap();
    store
        .bind_card_certificate(&gp, &fingerprint, Some(&serial), now())
        .unwrap();
    assert!(matches!(
        store.bind_card_certificate(&id(DEMO_PHARMACIST), &fingerprint, None, now()),
        Err(StoreError::AlreadyExists { .. })
    ));
    let binding = store.card_binding(&fingerprint).unwrap().unwrap();
    assert_eq!(
        (binding.ehealth_id.clone(), binding.revoked),
        (gp.clone(), false)
    );
    assert_eq!(binding.serial.as_deref(), Some("0a1b"));
    assert_eq!(binding.fingerprint, fingerprint.to_string());

    store.revoke_card_certificate(&fingerprint, now()).unwrap();
    let revoked = store.card_binding(&fingerprint).unwrap().unwrap();
    assert!(revoked.revoked);
    assert_eq!(revoked.revoked_at, Some(now()));
    assert_eq!(store.card_bindings_of(&gp).unwrap(), vec![revoked]);
    assert!(
        store
            .card_binding(&Fingerprint::of_der(b"other"))
            .unwrap()
            .is_none()
    );
}

#[test]
fn presence_codes_are_spent_once_for_one_professional() {
    let store = seeded();
    let tom = patient(DEMO_PATIENT_WITHOUT_RELATIONS);
    let pharmacist = id(DEMO_PHARMACIST);
    let code = store
        .create_presence_code(&tom, now(), Duration::minutes(30))
        .unwrap();

    let granted = store
        .redeem_presence_code(&tom, code.expose(), &pharmacist, now(), Duration::hours(4))
        .unwrap();
    let PresenceCodeRedemption::Granted(grant) = granted else {
        panic!("expected a grant, got {granted:?}");
    };
    assert_eq!(grant.not_on_or_after, now() + Duration::hours(4));
    assert_eq!(
        store.consultation_grant(&grant.id).unwrap(),
        Some(grant.clone())
    );
    assert_eq!(store.grants_of(&pharmacist, &tom).unwrap(), vec![grant]);

    // Spent: refused to anyone, the same professional included.
    for who in [&pharmacist, &id(DEMO_CERCLE_SPECIALIST)] {
        assert_eq!(
            store
                .redeem_presence_code(&tom, code.expose(), who, now(), Duration::hours(4))
                .unwrap(),
            PresenceCodeRedemption::Spent
        );
    }
    // A code of another patient is no code of this one.
    assert_eq!(
        store
            .redeem_presence_code(
                &patient(DEMO_PATIENT_WITH_RELATIONS),
                code.expose(),
                &pharmacist,
                now(),
                Duration::hours(4)
            )
            .unwrap(),
        PresenceCodeRedemption::Invalid
    );
    let late = store
        .create_presence_code(&tom, now(), Duration::minutes(30))
        .unwrap();
    assert_eq!(
        store
            .redeem_presence_code(
                &tom,
                late.expose(),
                &pharmacist,
                now() + Duration::minutes(30),
                Duration::hours(4)
            )
            .unwrap(),
        PresenceCodeRedemption::Expired
    );
    // Only hashes are stored.
    let hashes: Vec<String> = store
        .with(|c| {
            let mut s = c.prepare("SELECT code_hash FROM presence_codes").unwrap();
            Ok(s.query_map([], |r| r.get(0))
                .unwrap()
                .map(|r| r.unwrap())
                .collect())
        })
        .unwrap();
    assert!(
        hashes
            .iter()
            .all(|h| h.starts_with("$argon2id$") && !h.contains(late.expose()))
    );
}

#[test]
fn facts_for_feed_the_policy_with_what_the_store_holds() {
    let store = seeded();
    let marie = patient(DEMO_PATIENT_WITH_RELATIONS);
    store
        .insert_document(
            &new_document(
                "urn:uuid:doc-1",
                "1.2.3.1",
                DEMO_REFERENT_GP,
                ConfidentialityMode::Restreint,
            ),
            now(),
        )
        .unwrap();

    let roles_of = |subject: Subject| {
        store
            .facts_for(&subject, &marie, Some("urn:uuid:doc-1"), now())
            .unwrap()
            .roles()
    };
    assert_eq!(
        roles_of(Subject::card(id(DEMO_REFERENT_GP))),
        RoleSet::of(&[Role::Author, Role::Referent])
    );
    assert_eq!(
        roles_of(Subject::card(id(DEMO_CERCLE_SPECIALIST))),
        RoleSet::only(Role::Cercle)
    );
    assert_eq!(
        roles_of(Subject::card(id(DEMO_BLACK_LISTED))),
        RoleSet::only(Role::BlackListed)
    );
    assert_eq!(
        roles_of(Subject::card(id(DEMO_PHARMACIST))),
        RoleSet::only(Role::Other)
    );
    assert_eq!(
        roles_of(Subject::password(id(DEMO_REFERENT_GP))),
        RoleSet::only(Role::PasswordSession)
    );
    assert_eq!(
        roles_of(Subject::card(id(DEMO_PENDING_ACTIVATION))),
        RoleSet::EMPTY
    );
    assert_eq!(roles_of(Subject::card(id("SBX-9999"))), RoleSet::EMPTY);
    assert_eq!(
        roles_of(Subject::Patient(marie.clone())),
        RoleSet::only(Role::Patient)
    );
    assert_eq!(
        roles_of(Subject::Accompagnateur(
            AccompagnateurId::new(DEMO_ACCOMPAGNATEUR).unwrap()
        )),
        RoleSet::only(Role::Accompagnateur)
    );

    // A code de présence turns the pharmacist into PC — for Normal, not this Restreint.
    let code = store
        .create_presence_code(&marie, now(), Duration::minutes(30))
        .unwrap();
    store
        .redeem_presence_code(
            &marie,
            code.expose(),
            &id(DEMO_PHARMACIST),
            now(),
            Duration::hours(4),
        )
        .unwrap();
    let facts = store
        .facts_for(
            &Subject::card(id(DEMO_PHARMACIST)),
            &marie,
            Some("urn:uuid:doc-1"),
            now(),
        )
        .unwrap();
    assert_eq!(facts.roles(), RoleSet::only(Role::PresenceCode));
    assert_eq!(
        policy::decide(&facts, Operation::Read).rule.id,
        "READ-RESTREINT"
    );
    let later = store
        .facts_for(
            &Subject::card(id(DEMO_PHARMACIST)),
            &marie,
            Some("urn:uuid:doc-1"),
            now() + Duration::hours(4),
        )
        .unwrap();
    assert_eq!(later.roles(), RoleSet::only(Role::Other));

    // A document of another DSP is not confirmed to exist.
    assert!(matches!(
        store.facts_for(
            &Subject::Patient(patient(DEMO_PATIENT_WITHOUT_RELATIONS)),
            &patient(DEMO_PATIENT_WITHOUT_RELATIONS),
            Some("urn:uuid:doc-1"),
            now()
        ),
        Err(StoreError::NotFound {
            what: "document entry",
            ..
        })
    ));
    assert!(matches!(
        store.facts_for(
            &Subject::Patient(marie.clone()),
            &patient("1958031412311"),
            None,
            now()
        ),
        Err(StoreError::NotFound {
            what: "patient",
            ..
        })
    ));
}

#[test]
fn documents_keep_versions_replacements_and_refuse_duplicate_unique_ids() {
    let store = seeded();
    let marie = patient(DEMO_PATIENT_WITH_RELATIONS);
    let first = store
        .insert_document(
            &new_document(
                "urn:uuid:a",
                "1.2.3.10",
                DEMO_REFERENT_GP,
                ConfidentialityMode::Normal,
            ),
            now(),
        )
        .unwrap();
    assert_eq!(
        (first.version, first.logical_id.as_str()),
        (1, "urn:uuid:a")
    );
    assert!(matches!(
        store.insert_document(&new_document("urn:uuid:b", "1.2.3.10", DEMO_REFERENT_GP, ConfidentialityMode::Normal), now()),
        Err(StoreError::DuplicateUniqueId(ref u)) if u == "1.2.3.10"
    ));
    assert!(matches!(
        store.insert_document(
            &new_document(
                "urn:uuid:c",
                "1.2.3.11",
                "SBX-9999",
                ConfidentialityMode::Normal
            ),
            now()
        ),
        Err(StoreError::Invalid { .. })
    ));

    // ITI-57: a new version, same logicalId and uniqueId; the old one is Deprecated.
    let changed = store
        .change_document_mode(
            "urn:uuid:a",
            "urn:uuid:a2",
            ConfidentialityMode::Prive,
            b"<new/>".to_vec(),
            now(),
        )
        .unwrap();
    assert_eq!(
        (changed.version, changed.mode, changed.status),
        (2, ConfidentialityMode::Prive, DocumentStatus::Approved)
    );
    assert_eq!(changed.unique_id, "1.2.3.10");
    let history: Vec<_> = store
        .document_versions("urn:uuid:a")
        .unwrap()
        .into_iter()
        .map(|d| (d.version, d.mode, d.status))
        .collect();
    assert_eq!(
        history,
        vec![
            (1, ConfidentialityMode::Normal, DocumentStatus::Deprecated),
            (2, ConfidentialityMode::Prive, DocumentStatus::Approved)
        ]
    );
    assert_eq!(
        store
            .document_by_unique_id("1.2.3.10")
            .unwrap()
            .unwrap()
            .entry_uuid,
        "urn:uuid:a2"
    );
    assert!(matches!(
        store.change_document_mode(
            "urn:uuid:a",
            "urn:uuid:a3",
            ConfidentialityMode::Normal,
            Vec::new(),
            now()
        ),
        Err(StoreError::Invalid { .. })
    ));

    // RPLC: the replaced entry is Deprecated and points to its replacement.
    let replacement = store
        .replace_document(
            "urn:uuid:a2",
            &new_document(
                "urn:uuid:r",
                "1.2.3.12",
                DEMO_REFERENT_GP,
                ConfidentialityMode::Normal,
            ),
            now(),
        )
        .unwrap();
    let replaced = store.document("urn:uuid:a2").unwrap().unwrap();
    assert_eq!(replaced.status, DocumentStatus::Deprecated);
    assert_eq!(
        replaced.replaced_by.as_deref(),
        Some(replacement.entry_uuid.as_str())
    );
    let approved = store
        .documents_of_patient(&marie, Some(DocumentStatus::Approved))
        .unwrap();
    assert_eq!(
        approved
            .iter()
            .map(|d| d.entry_uuid.as_str())
            .collect::<Vec<_>>(),
        vec!["urn:uuid:r"]
    );
    assert_eq!(store.documents_of_patient(&marie, None).unwrap().len(), 3);
}

#[test]
fn hostile_text_is_data_never_sql() {
    let store = seeded();
    let hostile = "x' OR '1'='1'; DROP TABLE documents; --";
    assert!(store.document(hostile).unwrap().is_none());
    assert!(store.document_by_unique_id(hostile).unwrap().is_none());
    assert!(store.professional_by_matricule(hostile).unwrap().is_none());
    assert!(store.search_professionals(hostile).unwrap().is_empty());
    // LIKE wildcards are matched literally.
    assert!(store.search_professionals("%").unwrap().is_empty());
    assert_eq!(store.search_professionals("web").unwrap().len(), 1);
    assert_eq!(
        store.professionals().unwrap().len(),
        DEMO_PROFESSIONALS.len()
    );
    assert_eq!(
        store
            .check_activation_letter(hostile, hostile, now())
            .unwrap(),
        LetterCheck::CodeInvalid
    );
    store.queue_mail(hostile, hostile, hostile, now()).unwrap();
    assert_eq!(store.outbox(Some(hostile)).unwrap()[0].body, hostile);
    assert_eq!(
        store
            .documents_of_patient(&patient(DEMO_PATIENT_WITH_RELATIONS), None)
            .unwrap()
            .len(),
        0
    );
}

#[test]
fn the_access_trail_records_who_did_what_and_the_rule() {
    let store = seeded();
    let marie = patient(DEMO_PATIENT_WITH_RELATIONS);
    store
        .insert_document(
            &new_document(
                "urn:uuid:t",
                "1.2.3.20",
                DEMO_REFERENT_GP,
                ConfidentialityMode::Normal,
            ),
            now(),
        )
        .unwrap();
    for (subject, at) in [
        (Subject::card(id(DEMO_CERCLE_SPECIALIST)), now()),
        (
            Subject::card(id(DEMO_BLACK_LISTED)),
            now() + Duration::seconds(5),
        ),
    ] {
        let facts = store
            .facts_for(&subject, &marie, Some("urn:uuid:t"), at)
            .unwrap();
        let decision = policy::decide(&facts, Operation::Read);
        store
            .record_access(&NewAccess {
                at,
                patient: &marie,
                subject: &subject,
                decision: &decision,
                entry_uuid: Some("urn:uuid:t"),
            })
            .unwrap();
    }
    let trail = store.access_trail(&marie).unwrap();
    let summary: Vec<_> = trail
        .iter()
        .map(|r| {
            (
                r.subject.clone(),
                r.operation.as_str(),
                r.allowed,
                r.rule.as_str(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                Subject::card(id(DEMO_CERCLE_SPECIALIST)),
                "read",
                true,
                "READ-NORMAL"
            ),
            (
                Subject::card(id(DEMO_BLACK_LISTED)),
                "read",
                false,
                "BLACK-LIST"
            ),
        ]
    );
    assert!(
        store
            .access_trail(&patient(DEMO_PATIENT_WITHOUT_RELATIONS))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn anomaly_reports_mail_and_replay_cache() {
    let store = seeded();
    let marie = patient(DEMO_PATIENT_WITH_RELATIONS);
    store
        .insert_document(
            &new_document(
                "urn:uuid:n",
                "1.2.3.30",
                DEMO_REFERENT_GP,
                ConfidentialityMode::Normal,
            ),
            now(),
        )
        .unwrap();
    let report = store
        .add_anomaly_report(
            "urn:uuid:n",
            &id(DEMO_CERCLE_SPECIALIST),
            "wrong allergy",
            now(),
        )
        .unwrap();
    let reports = store.anomaly_reports(Some(&marie)).unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(
        (reports[0].id, reports[0].description.as_str()),
        (report, "wrong allergy")
    );
    assert_eq!(store.anomaly_reports(None).unwrap(), reports);
    assert!(matches!(
        store.add_anomaly_report("urn:uuid:none", &id(DEMO_CERCLE_SPECIALIST), "x", now()),
        Err(StoreError::NotFound { .. })
    ));

    store
        .queue_mail("luc@example.invalid", "Code", "Your code: 1234", now())
        .unwrap();
    store
        .queue_mail("other@example.invalid", "Hi", "x", now())
        .unwrap();
    let mail = store.outbox(Some("luc@example.invalid")).unwrap();
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0].body, "Your code: 1234");
    assert!(!format!("{:?}", mail[0]).contains("1234"));
    assert_eq!(store.outbox(None).unwrap().len(), 2);

    let window = Duration::minutes(15);
    assert!(
        store
            .remember_message_id("urn:uuid:m1", now(), window)
            .unwrap()
    );
    assert!(
        !store
            .remember_message_id("urn:uuid:m1", now() + Duration::minutes(14), window)
            .unwrap()
    );
    assert!(
        store
            .remember_message_id("urn:uuid:m2", now(), window)
            .unwrap()
    );
    // Outside the window the MessageID was forgotten.
    assert!(
        store
            .remember_message_id("urn:uuid:m1", now() + Duration::minutes(16), window)
            .unwrap()
    );
}

#[test]
fn relationships_can_be_edited() {
    let store = seeded();
    let tom = patient(DEMO_PATIENT_WITHOUT_RELATIONS);
    store
        .set_referent(&tom, Some(&id(DEMO_PHARMACIST)), now())
        .unwrap();
    store
        .set_referent(&tom, Some(&id(DEMO_REFERENT_GP)), now())
        .unwrap();
    store
        .add_to_cercle(&tom, &id(DEMO_CERCLE_SPECIALIST), now())
        .unwrap();
    store
        .add_to_cercle(&tom, &id(DEMO_CERCLE_SPECIALIST), now())
        .unwrap();
    store
        .add_to_black_list(&tom, &id(DEMO_BLACK_LISTED), now())
        .unwrap();
    let relations = store.relations(&tom).unwrap();
    assert_eq!(relations.referent, Some(id(DEMO_REFERENT_GP)));
    assert_eq!(relations.cercle, vec![id(DEMO_CERCLE_SPECIALIST)]);
    assert_eq!(relations.black_list, vec![id(DEMO_BLACK_LISTED)]);

    store
        .remove_from_cercle(&tom, &id(DEMO_CERCLE_SPECIALIST))
        .unwrap();
    store
        .remove_from_black_list(&tom, &id(DEMO_BLACK_LISTED))
        .unwrap();
    store.set_referent(&tom, None, now()).unwrap();
    assert_eq!(
        store.relations(&tom).unwrap(),
        policy::PatientRelations::none(tom.clone())
    );
    assert!(matches!(
        store.remove_from_cercle(&tom, &id(DEMO_CERCLE_SPECIALIST)),
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.add_to_cercle(&tom, &id("SBX-9999"), now()),
        Err(StoreError::Invalid { .. })
    ));
    let jean = AccompagnateurId::new(DEMO_ACCOMPAGNATEUR).unwrap();
    store.name_accompagnateur(&tom, &jean, now()).unwrap();
    assert_eq!(store.patients_accompanied_by(&jean).unwrap().len(), 2);
    store.remove_accompagnateur(&tom, &jean).unwrap();
    assert_eq!(store.patients_accompanied_by(&jean).unwrap().len(), 1);

    store
        .set_professional_status(&id(DEMO_PHARMACIST), ProfessionalStatus::Deactivated)
        .unwrap();
    assert_eq!(
        store
            .professional(&id(DEMO_PHARMACIST))
            .unwrap()
            .unwrap()
            .status,
        ProfessionalStatus::Deactivated
    );
}

#[test]
fn the_store_is_shared_across_threads() {
    fn assert_shareable<T: Clone + Send + Sync + 'static>() {}
    assert_shareable::<Store>();
    let store = seeded();
    let tom = patient(DEMO_PATIENT_WITHOUT_RELATIONS);
    let code = store
        .create_presence_code(&tom, now(), Duration::minutes(30))
        .unwrap();
    let code = code.expose().to_owned();
    // Two professionals present the same code at once: exactly one grant.
    let handles: Vec<_> = [DEMO_PHARMACIST, DEMO_CERCLE_SPECIALIST]
        .into_iter()
        .map(|who| {
            let store = store.clone();
            let tom = tom.clone();
            let code = code.clone();
            std::thread::spawn(move || {
                store
                    .redeem_presence_code(&tom, &code, &id(who), now(), Duration::hours(4))
                    .unwrap()
            })
        })
        .collect();
    let outcomes: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let granted = outcomes
        .iter()
        .filter(|o| matches!(o, PresenceCodeRedemption::Granted(_)))
        .count();
    assert_eq!(granted, 1, "{outcomes:?}");
    assert!(outcomes.contains(&PresenceCodeRedemption::Spent));
}
