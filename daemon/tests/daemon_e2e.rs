//! Issue 4's acceptance, over the real socket of the real `dspconnectd`
//! binary, against the sandbox over HTTPS.

mod daemon_support;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use daemon_support::*;
use dspconnect::ErrorCode;
use dspconnect::ipc::protocol::*;
use dspconnect::model::ConfidentialityMode;
use sha2::{Digest, Sha256};

const REFERENT_GP: &str = "SBX1001";
const MARIE: &str = "1945093006704";
const TOM: &str = "2005062201818";

fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn set_mode(
    client: &mut dspconnect::ipc::client::Client,
    unique_id: &str,
    mode: ConfidentialityMode,
) -> Result<DocumentSummary, dspconnect::ipc::client::ClientError> {
    client.call::<SetMode>(&SetModeParams {
        patient: MARIE.to_owned(),
        unique_id: unique_id.to_owned(),
        mode,
    })
}

#[test]
fn a_gp_works_through_the_socket_from_unlock_to_the_browser() {
    let sandbox = ExternalSandbox::start();
    let home = DaemonHome::new();
    let (card, pin) = sandbox.export_card(REFERENT_GP, sandbox.dir.path());
    home.write_config(sandbox.profile(), |_| {});
    let daemon = Daemon::start(&home, &["--software-card", card.to_str().unwrap()]);
    let mut client = daemon.client();

    let status = client.call::<StatusMethod>(&Empty {}).unwrap();
    assert!(status.sandbox, "{status:?}");
    assert!(status.card.card_present, "{status:?}");
    assert_eq!(status.session.state, SessionState::CardPresent);

    let session = unlock(&mut client, &pin);
    assert_eq!(
        session.professional.as_ref().map(|p| p.ehealth_id.as_str()),
        Some(REFERENT_GP)
    );

    // A 5 MB PDF by path.
    let report = pdf(5 * 1024 * 1024, 1);
    let report_path = home.path("home").join("report.pdf");
    std::fs::write(&report_path, &report).unwrap();
    let accepted = client
        .call::<Push>(&PushParams {
            source: DocumentSource::Path(report_path.display().to_string()),
            metadata: metadata(MARIE, "Lettre de sortie", ConfidentialityMode::Normal),
        })
        .unwrap();
    let job = wait_job(&mut client, &accepted.job_id, Duration::from_secs(120));
    assert_eq!(job.state, JobState::Done, "{job:?}\n{}", daemon.logs());

    let listed = client
        .call::<List>(&ListParams {
            patient: MARIE.to_owned(),
            ..ListParams::default()
        })
        .unwrap();
    let entry = listed
        .documents
        .iter()
        .find(|d| d.unique_id == accepted.unique_id)
        .expect("the pushed document is listed");
    assert_eq!(entry.size, report.len() as u64);
    assert_eq!(entry.mode, ConfidentialityMode::Normal);

    let out = home.path("home").join("retrieved.pdf");
    let got = client
        .call::<GetToPath>(&GetParams {
            patient: MARIE.to_owned(),
            unique_id: accepted.unique_id.clone(),
            path: out.display().to_string(),
        })
        .unwrap();
    assert_eq!(got.sha256, hex_sha256(&report));
    assert_eq!(std::fs::read(&out).unwrap(), report);
    // The same path again: never overwritten.
    let again = client.call::<GetToPath>(&GetParams {
        patient: MARIE.to_owned(),
        unique_id: accepted.unique_id.clone(),
        path: out.display().to_string(),
    });
    assert_eq!(code_of(again), ErrorCode::BadOutputPath);

    // Chunked reading gives the same bytes.
    let handle = client
        .call::<OpenRead>(&OpenReadParams {
            patient: MARIE.to_owned(),
            unique_id: accepted.unique_id.clone(),
        })
        .unwrap();
    let mut read = Vec::new();
    loop {
        let chunk = client
            .call::<ReadChunk>(&ReadChunkParams {
                read_id: handle.read_id.clone(),
                offset: read.len() as u64,
                length: MAX_CHUNK_BYTES as u32,
            })
            .unwrap();
        use base64::Engine as _;
        read.extend(
            base64::engine::general_purpose::STANDARD
                .decode(chunk.data)
                .unwrap(),
        );
        if chunk.eof {
            break;
        }
    }
    assert_eq!(read, report);
    client
        .call::<CloseRead>(&ReadRef {
            read_id: handle.read_id,
        })
        .unwrap();

    // A document in Visite d'annonce, then each mode change the charter
    // allows its author (also the médecin référent), and the ones it refuses.
    let annonce = client
        .call::<Push>(&PushParams {
            source: DocumentSource::Base64({
                use base64::Engine as _;
                base64::engine::general_purpose::STANDARD.encode(pdf(20_000, 2))
            }),
            metadata: metadata(
                MARIE,
                "Annonce diagnostique",
                ConfidentialityMode::VisiteAnnonce,
            ),
        })
        .unwrap();
    assert_eq!(
        wait_job(&mut client, &annonce.job_id, Duration::from_secs(60)).state,
        JobState::Done
    );
    let mine = client
        .call::<List>(&ListParams {
            patient: MARIE.to_owned(),
            mine_in_visite_annonce: true,
            ..ListParams::default()
        })
        .unwrap();
    assert_eq!(
        mine.documents
            .iter()
            .map(|d| d.unique_id.as_str())
            .collect::<Vec<_>>(),
        vec![annonce.unique_id.as_str()]
    );
    for mode in [
        ConfidentialityMode::Normal,
        ConfidentialityMode::Restreint,
        ConfidentialityMode::Prive,
    ] {
        let changed = set_mode(&mut client, &annonce.unique_id, mode).unwrap();
        assert_eq!(changed.mode, mode);
    }
    let refused = set_mode(&mut client, &annonce.unique_id, ConfidentialityMode::Normal);
    let refused = refused.expect_err("only the patient takes a document out of Privé");
    assert_eq!(refused.code, ErrorCode::ModeChangeRefused, "{refused:?}");
    assert!(
        refused
            .rpc
            .as_ref()
            .and_then(|r| r.data.hint.as_ref())
            .is_some(),
        "a refusal says what to do: {refused:?}"
    );
    assert_eq!(
        code_of(set_mode(
            &mut client,
            &accepted.unique_id,
            ConfidentialityMode::VisiteAnnonce
        )),
        ErrorCode::ModeChangeRefused
    );

    // Replace the first document.
    let replacement = client
        .call::<Replace>(&ReplaceParams {
            replaces: accepted.unique_id.clone(),
            source: DocumentSource::Base64({
                use base64::Engine as _;
                base64::engine::general_purpose::STANDARD.encode(pdf(30_000, 3))
            }),
            metadata: metadata(
                MARIE,
                "Lettre de sortie (corrigée)",
                ConfidentialityMode::Normal,
            ),
        })
        .unwrap();
    assert_eq!(
        wait_job(&mut client, &replacement.job_id, Duration::from_secs(60)).state,
        JobState::Done
    );
    let all = client
        .call::<List>(&ListParams {
            patient: MARIE.to_owned(),
            include_deprecated: true,
            ..ListParams::default()
        })
        .unwrap();
    let status_of = |id: &str| {
        all.documents
            .iter()
            .find(|d| d.unique_id == id)
            .map(|d| d.status.clone())
    };
    assert_eq!(
        status_of(&accepted.unique_id).as_deref(),
        Some("Deprecated")
    );
    assert_eq!(
        status_of(&replacement.unique_id).as_deref(),
        Some("Approved")
    );

    // The DSP in the browser: the one-time URL opens the page listing it.
    let url = client
        .call::<OpenDsp>(&OpenDspParams {
            patient: MARIE.to_owned(),
            launch_browser: false,
        })
        .unwrap();
    assert!(!url.browser_launched);
    let (http, page) = sandbox.fetch(&url.url);
    assert_eq!(http, 200, "{page}");
    assert!(page.contains("Lettre de sortie (corrigée)"), "{page}");
    let launched = client
        .call::<OpenDsp>(&OpenDspParams {
            patient: MARIE.to_owned(),
            launch_browser: true,
        })
        .unwrap();
    assert!(launched.browser_launched, "BROWSER=true starts");

    // A second patient, with no relation: only with the presence code.
    let denied = client.call::<Push>(&PushParams {
        source: DocumentSource::Base64("JVBERi0xLjQK".into()),
        metadata: metadata(TOM, "Consultation", ConfidentialityMode::Normal),
    });
    let denied_job = match denied {
        Ok(accepted) => wait_job(&mut client, &accepted.job_id, Duration::from_secs(60)),
        Err(e) => panic!("the push is queued, and fails on the platform's rules: {e:?}"),
    };
    assert_eq!(denied_job.state, JobState::Failed, "{denied_job:?}");
    assert_eq!(
        denied_job.error.as_ref().map(|e| e.code),
        Some(ErrorCode::AccessDenied)
    );
    let code = sandbox.presence_code(TOM);
    let grant = client
        .call::<PatientAccess>(&PatientAccessParams {
            patient: TOM.to_owned(),
            presence_code: SecretString::new(code.clone()),
        })
        .unwrap();
    assert_eq!(grant.patient, TOM);
    let with_grant = client
        .call::<Push>(&PushParams {
            source: DocumentSource::Base64("JVBERi0xLjQKJSVFT0YK".into()),
            metadata: metadata(TOM, "Consultation", ConfidentialityMode::Normal),
        })
        .unwrap();
    assert_eq!(
        wait_job(&mut client, &with_grant.job_id, Duration::from_secs(60)).state,
        JobState::Done
    );
    let tom_docs = client
        .call::<List>(&ListParams {
            patient: TOM.to_owned(),
            ..ListParams::default()
        })
        .unwrap();
    assert!(
        tom_docs
            .documents
            .iter()
            .any(|d| d.unique_id == with_grant.unique_id)
    );

    let anomaly = client
        .call::<ReportAnomaly>(&ReportAnomalyParams {
            patient: MARIE.to_owned(),
            unique_id: replacement.unique_id.clone(),
            description: "Mauvais patient".into(),
        })
        .unwrap();
    assert!(!anomaly.report_id.is_empty());
    let hpd = client
        .call::<HpdLookup>(&HpdLookupParams {
            ehealth_id: Some("SBX1002".into()),
            name: None,
        })
        .unwrap();
    assert_eq!(hpd.professionals.len(), 1);

    let tail = client
        .call::<LogTail>(&LogTailParams { lines: 200 })
        .unwrap();
    assert!(tail.lines.iter().any(|l| l.contains("patient_access")));

    // Secrets: nowhere in logs, spool, audit log or configuration.
    let lock = client.call::<Lock>(&Empty {}).unwrap();
    assert_eq!(lock.state, SessionState::Locked);
    let ticket = url
        .url
        .split(['=', '/'])
        .next_back()
        .unwrap_or_default()
        .to_owned();
    drop(client);
    let logs = daemon.logs();
    let mut places = all_bytes_under(&home.path("state"));
    places.extend(all_bytes_under(&home.path("config")));
    places.push(("daemon logs".into(), logs.into_bytes()));
    for (name, secret) in [
        ("PIN", pin.as_str()),
        ("presence code", &code),
        ("portal ticket", &ticket),
    ] {
        assert!(secret.len() >= 4, "{name} too short to search for");
        for (path, bytes) in &places {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "the {name} appears in {}",
                path.display()
            );
        }
    }
}

#[test]
fn the_pending_professional_activates_the_account_with_the_card() {
    let sandbox = ExternalSandbox::start();
    let letter = sandbox
        .activation_letter
        .clone()
        .expect("the demo letter's code at first start");
    let home = DaemonHome::new();
    let (card, pin) = sandbox.export_card("SBX1005", sandbox.dir.path());
    home.write_config(sandbox.profile(), |_| {});
    let daemon = Daemon::start(&home, &["--software-card", card.to_str().unwrap()]);
    let mut client = daemon.client();

    // Not active yet: the platform refuses the session, but the PIN is verified.
    let refused = client.call::<Unlock>(&UnlockParams {
        pin: Some(SecretString::new(pin.clone())),
    });
    assert_eq!(code_of(refused), ErrorCode::AuthenticationRefused);

    let professional = sandbox
        .store()
        .professional(&dspconnect_sandbox::policy::EHealthId::new("SBX1005").unwrap())
        .unwrap()
        .expect("SBX1005 in the HPD");
    let matricule = professional.matricule.to_string();
    let email = "dr.pending@example.lu";
    let wrong = client.call::<ActivateAccount>(&ActivateParams {
        activation_code: SecretString::new("WRONG-CODE-0000"),
        matricule: matricule.clone(),
        email: email.into(),
    });
    assert_eq!(code_of(wrong), ErrorCode::ActivationRefused);
    let pending = client
        .call::<ActivateAccount>(&ActivateParams {
            activation_code: SecretString::new(letter.clone()),
            matricule: matricule.clone(),
            email: email.into(),
        })
        .unwrap();
    assert!(!pending.email_sent_to.is_empty());
    let email_code = sandbox.mailed_code(email);
    let password = "Neues-Passwort-2026";
    let done = client
        .call::<ConfirmActivation>(&ConfirmActivationParams {
            activation_code: SecretString::new(letter.clone()),
            matricule: matricule.clone(),
            email_code: SecretString::new(email_code.clone()),
            new_password: SecretString::new(password),
        })
        .unwrap();
    assert_eq!(done.professional.ehealth_id, "SBX1005");

    // Active now: the card session opens, and so does a password session.
    let session = unlock(&mut client, &pin);
    assert_eq!(
        session.professional.map(|p| p.ehealth_id),
        Some("SBX1005".to_owned())
    );
    client.call::<Lock>(&Empty {}).unwrap();
    let limited = client
        .call::<PasswordLogin>(&PasswordLoginParams {
            matricule: matricule.clone(),
            password: SecretString::new(password),
        })
        .unwrap();
    assert_eq!(limited.state, SessionState::Password);
    let no_documents = client.call::<List>(&ListParams {
        patient: MARIE.to_owned(),
        ..ListParams::default()
    });
    assert_eq!(code_of(no_documents), ErrorCode::PasswordSessionLimited);

    drop(client);
    let logs = daemon.logs();
    let mut places = all_bytes_under(&home.path("state"));
    places.extend(all_bytes_under(&home.path("config")));
    places.push(("daemon logs".into(), logs.into_bytes()));
    for (name, secret) in [
        ("PIN", pin.as_str()),
        ("letter code", letter.as_str()),
        ("e-mail code", email_code.as_str()),
        ("password", password),
    ] {
        for (path, bytes) in &places {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "the {name} appears in {}",
                path.display()
            );
        }
    }
}

/// One raw line to the socket and its answer.
fn raw_exchange(stream: &mut BufReader<UnixStream>, line: &[u8]) -> serde_json::Value {
    stream.get_mut().write_all(line).unwrap();
    stream.get_mut().write_all(b"\n").unwrap();
    let mut answer = String::new();
    stream.read_line(&mut answer).unwrap();
    serde_json::from_str(&answer).unwrap_or_else(|e| panic!("{e}: {answer}"))
}

fn our_code(answer: &serde_json::Value) -> i64 {
    answer["error"]["data"]["code"]
        .as_i64()
        .unwrap_or_else(|| panic!("an error with our code: {answer}"))
}

#[test]
fn junk_and_bad_requests_get_specific_errors_and_the_daemon_keeps_serving() {
    let sandbox = ExternalSandbox::start();
    let home = DaemonHome::new();
    let (card, pin) = sandbox.export_card(REFERENT_GP, sandbox.dir.path());
    home.write_config(sandbox.profile(), |_| {});
    let daemon = Daemon::start(&home, &["--software-card", card.to_str().unwrap()]);
    let mut client = daemon.client();
    unlock(&mut client, &pin);

    let mut raw = BufReader::new(UnixStream::connect(&daemon.socket).unwrap());
    // A 100 MB line of junk.
    let junk = vec![b'x'; 100 * 1024 * 1024];
    let answer = raw_exchange(&mut raw, &junk);
    assert_eq!(our_code(&answer), ErrorCode::LineTooLong.number() as i64);
    let answer = raw_exchange(&mut raw, b"{not json");
    assert_eq!(our_code(&answer), ErrorCode::ParseError.number() as i64);
    let answer = raw_exchange(
        &mut raw,
        br#"{"jsonrpc":"2.0","id":1,"method":"document.teleport"}"#,
    );
    assert_eq!(our_code(&answer), ErrorCode::MethodNotFound.number() as i64);
    let answer = raw_exchange(&mut raw, br#"{"jsonrpc":"2.0","id":2,"method":"status"}"#);
    assert!(answer["result"]["sandbox"].as_bool().unwrap(), "{answer}");

    let push =
        |client: &mut dspconnect::ipc::client::Client, source: DocumentSource, patient: &str| {
            client.call::<Push>(&PushParams {
                source,
                metadata: metadata(patient, "Lettre", ConfidentialityMode::Normal),
            })
        };
    let bad = push(
        &mut client,
        DocumentSource::Base64("JVBERi0K".into()),
        "1893120105733",
    )
    .expect_err("bad check digit");
    assert_eq!(bad.code, ErrorCode::BadMatricule);
    assert_eq!(
        bad.rpc.and_then(|r| r.data.field).as_deref(),
        Some("metadata.patient")
    );
    let missing = home.path("home").join("missing.pdf");
    assert_eq!(
        code_of(push(
            &mut client,
            DocumentSource::Path(missing.display().to_string()),
            MARIE
        )),
        ErrorCode::FileNotFound
    );
    assert_eq!(
        code_of(push(
            &mut client,
            DocumentSource::Path(home.path("home").display().to_string()),
            MARIE
        )),
        ErrorCode::NotAFile
    );
    let exe = home.path("home").join("tool.exe");
    std::fs::write(&exe, b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff").unwrap();
    assert_eq!(
        code_of(push(
            &mut client,
            DocumentSource::Path(exe.display().to_string()),
            MARIE
        )),
        ErrorCode::UnsupportedMimeType
    );
    assert_eq!(
        code_of(client.call::<JobStatus>(&JobRef {
            job_id: "no-such-job".into()
        })),
        ErrorCode::UnknownJob
    );
    // Still serving, on both connections.
    assert!(client.call::<StatusMethod>(&Empty {}).is_ok());
    let answer = raw_exchange(&mut raw, br#"{"jsonrpc":"2.0","id":3,"method":"status"}"#);
    assert!(answer["result"].is_object(), "{answer}");
    assert_eq!(
        client.call::<JobList>(&Empty {}).unwrap().jobs.len(),
        0,
        "nothing was queued by the refused pushes"
    );
}

#[test]
fn with_no_configuration_the_daemon_runs_the_embedded_sandbox_and_says_so() {
    let home = DaemonHome::new();
    let daemon = Daemon::start(&home, &[]);
    let banner = std::fs::read_to_string(&daemon.stdout).unwrap();
    assert!(banner.starts_with("SANDBOX"), "{banner}");
    let pin = banner
        .lines()
        .find_map(|l| l.trim().strip_prefix("card PIN:"))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("the banner gives the demo card's PIN:\n{banner}"))
        .to_owned();
    let mut client = daemon.client();
    let status = client.call::<StatusMethod>(&Empty {}).unwrap();
    assert!(status.sandbox);
    assert_eq!(status.platform, "sandbox");
    unlock(&mut client, &pin);
    let accepted = client
        .call::<Push>(&PushParams {
            source: DocumentSource::Base64("JVBERi0xLjQKJSVFT0YK".into()),
            metadata: metadata(MARIE, "Premier essai", ConfidentialityMode::Normal),
        })
        .unwrap();
    let job = wait_job(&mut client, &accepted.job_id, Duration::from_secs(60));
    assert_eq!(job.state, JobState::Done, "{job:?}\n{}", daemon.logs());
    assert!(daemon.logs().contains("SANDBOX"), "the logs say SANDBOX");
}

#[test]
fn a_report_written_to_the_drop_folder_reaches_the_dsp_once() {
    let sandbox = ExternalSandbox::start();
    let home = DaemonHome::new();
    let (card, pin) = sandbox.export_card(REFERENT_GP, sandbox.dir.path());
    let folder = home.path("home").join("DSP");
    std::fs::create_dir_all(&folder).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let watched = folder.clone();
    home.write_config(sandbox.profile(), move |c| {
        c.drop_folder.path = Some(watched)
    });
    let daemon = Daemon::start(&home, &["--software-card", card.to_str().unwrap()]);
    let mut client = daemon.client();
    unlock(&mut client, &pin);

    std::fs::write(
        folder.join("sortie.pdf.dsp.json"),
        serde_json::json!({
            "patient": MARIE,
            "title": "Lettre déposée",
            "mode": "normal",
            "patient_statement": {"informed_and_agrees": true}
        })
        .to_string(),
    )
    .unwrap();
    std::fs::write(folder.join("sortie.pdf.tmp"), pdf(30_000, 5)).unwrap();
    std::fs::rename(folder.join("sortie.pdf.tmp"), folder.join("sortie.pdf")).unwrap();

    let receipt = folder.join("sent").join("sortie.pdf.receipt.json");
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    while !receipt.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "no receipt; failed/: {:?}\n{}",
            std::fs::read_dir(folder.join("failed"))
                .map(|d| d.flatten().map(|e| e.file_name()).collect::<Vec<_>>())
                .unwrap_or_default(),
            daemon.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let listed = client
        .call::<List>(&ListParams {
            patient: MARIE.to_owned(),
            ..ListParams::default()
        })
        .unwrap();
    assert_eq!(
        listed
            .documents
            .iter()
            .filter(|d| d.title == "Lettre déposée")
            .count(),
        1
    );
}

/// Waits until `name` is in `sub` of the drop folder.
fn wait_in(folder: &std::path::Path, sub: &str, name: &str, daemon: &Daemon) -> std::path::PathBuf {
    let path = folder.join(sub).join(name);
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    while !path.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "{name} never in {sub}/; failed/: {:?}\n{}",
            std::fs::read_dir(folder.join("failed"))
                .map(|d| d.flatten().map(|e| e.file_name()).collect::<Vec<_>>())
                .unwrap_or_default(),
            daemon.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    path
}

#[test]
fn a_dropped_report_for_a_patient_seen_with_a_presence_code_uploads_under_the_grant() {
    let sandbox = ExternalSandbox::start();
    let home = DaemonHome::new();
    let (card, pin) = sandbox.export_card(REFERENT_GP, sandbox.dir.path());
    let folder = home.path("home").join("DSP");
    std::fs::create_dir_all(&folder).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let watched = folder.clone();
    home.write_config(sandbox.profile(), move |c| {
        c.drop_folder.path = Some(watched)
    });
    let daemon = Daemon::start(&home, &["--software-card", card.to_str().unwrap()]);
    let mut client = daemon.client();
    unlock(&mut client, &pin);
    let drop_report = |name: &str| {
        std::fs::write(
            folder.join(format!("{name}.dsp.json")),
            serde_json::json!({
                "patient": TOM,
                "title": name,
                "mode": "normal",
                "patient_statement": {"informed_and_agrees": true}
            })
            .to_string(),
        )
        .unwrap();
        let tmp = folder.join(format!("{name}.tmp"));
        std::fs::write(&tmp, pdf(20_000, name.len() as u8)).unwrap();
        std::fs::rename(&tmp, folder.join(name)).unwrap();
    };

    // No relation to Tom: the report fails with how to open access.
    drop_report("avant.pdf");
    let error = wait_in(&folder, "failed", "avant.pdf.error.json", &daemon);
    let error = std::fs::read_to_string(error).unwrap();
    assert!(error.contains("dspctl access"), "{error}");

    // With Tom's code de présence (given through the IPC, never a file),
    // the next report uploads under the consultation grant.
    let code = sandbox.presence_code(TOM);
    client
        .call::<PatientAccess>(&PatientAccessParams {
            patient: TOM.to_owned(),
            presence_code: SecretString::new(code),
        })
        .unwrap();
    drop_report("apres.pdf");
    let receipt = wait_in(&folder, "sent", "apres.pdf.receipt.json", &daemon);
    let receipt: serde_json::Value =
        serde_json::from_slice(&std::fs::read(receipt).unwrap()).unwrap();
    let unique_id = receipt["uniqueId"].as_str().unwrap_or_default().to_owned();
    let tom_docs = client
        .call::<List>(&ListParams {
            patient: TOM.to_owned(),
            ..ListParams::default()
        })
        .unwrap();
    assert!(
        tom_docs
            .documents
            .iter()
            .any(|d| d.title == "apres.pdf" && d.unique_id == unique_id),
        "{receipt}\n{tom_docs:?}"
    );
}
