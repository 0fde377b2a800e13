//! The Visite d'annonce reminder (issue 7, "Notifications").
//!
//! The charter: the professionals who put a document in mode « Visite
//! d'annonce » « s'engagent à modifier cette information en mode Normal,
//! Restreint ou Privé, dès que le patient a reçu cet accompagnement ».
//! While a card session is open, this task looks for the professional's
//! documents still in Visite d'annonce registered more than
//! `tray.visite_annonce_reminder_days` days ago (0: never; applied live)
//! and tells them once: one IPC `notice` event, which the tray shows as
//! one desktop notification.
//!
//! - When: at each authentication (a new card session, not a renewal),
//!   every [`CHECK_PERIOD`], and when the setting changes (so a change
//!   applies at once, and tests trigger a check deterministically).
//! - Which patients: the platform is queried per patient (ITI-18), and
//!   this daemon only knows the patients of the Visite d'annonce documents
//!   it uploaded itself for this professional (outbox jobs, kept here
//!   beyond the outbox's own retention). A patient is forgotten once a
//!   check finds none of the professional's documents still in Visite
//!   d'annonce there.
//! - Once a day: a reminder is sent only when one of the documents was not
//!   reminded in the last [`REMIND_AGAIN_AFTER`]; it then lists all of them.
//! - Privacy: the message has counts and the patients' matricules masked
//!   to their last 4 digits (the serial and check digits, not the birth
//!   date), never a title or a name (see docs/tray.md).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use dspconnect::ipc::protocol::{DocumentSummary, Event, Job, JobState, ListParams};
use dspconnect::model::{ConfidentialityMode, Matricule};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::sync::{Notify, broadcast};

use super::Core;
use crate::audit::{AuditAction, AuditOutcome, AuditRecord, EHealthId, PatientMatricule};
use crate::private_fs;

/// How often a check runs while a card session stays open.
pub(crate) const CHECK_PERIOD: Duration = Duration::from_secs(4 * 60 * 60);

/// The same documents are not reminded again sooner than this.
pub(crate) const REMIND_AGAIN_AFTER: time::Duration = time::Duration::days(1);

/// How many masked matricules a reminder names (then "and N more").
const PATIENTS_NAMED: usize = 5;

const FILE_NAME: &str = "visite-annonce-reminders.json";

/// The first line of a reminder notice (the notification's summary).
pub(crate) const SUMMARY: &str = "Documents still in Visite d'annonce";

/// One of the professional's documents still in Visite d'annonce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pending {
    pub(crate) patient: String,
    pub(crate) unique_id: String,
}

/// What the `mine_in_visite_annonce` filter of `list` keeps (handlers.rs):
/// the professional's own documents still in Visite d'annonce.
pub(crate) fn is_mine_in_visite_annonce(d: &DocumentSummary, professional: &str) -> bool {
    d.author.ehealth_id == professional && d.mode == ConfidentialityMode::VisiteAnnonce
}

/// When a listed document was registered, as `list`'s `since_last_visit`
/// reads it: the submission time, else the creation time (ITI-18 gives no
/// submission time; the creation time is the upload's unless the sender
/// set it).
pub(crate) fn registered_at(d: &DocumentSummary) -> Option<OffsetDateTime> {
    let registered = d.submission_time.as_deref().unwrap_or(&d.creation_time);
    OffsetDateTime::parse(registered, &Rfc3339).ok()
}

/// `1945093006704` → `…6704`.
pub(crate) fn mask(matricule: &str) -> String {
    let digits: Vec<char> = matricule.chars().collect();
    let tail: String = digits[digits.len().saturating_sub(4)..].iter().collect();
    format!("…{tail}")
}

/// The notice: the summary line, then the body.
pub(crate) fn message(pending: &[Pending], days: u32) -> String {
    let patients: BTreeSet<&str> = pending.iter().map(|p| p.patient.as_str()).collect();
    let documents = match pending.len() {
        1 => "1 of your documents is".to_owned(),
        n => format!("{n} of your documents are"),
    };
    let day_word = if days == 1 { "day" } else { "days" };
    let mut named: Vec<String> = patients
        .iter()
        .take(PATIENTS_NAMED)
        .map(|p| mask(p))
        .collect();
    if patients.len() > PATIENTS_NAMED {
        named.push(format!("and {} more", patients.len() - PATIENTS_NAMED));
    }
    let whose = match patients.len() {
        1 => "1 patient",
        _ => "patients",
    };
    format!(
        "{SUMMARY}\n{documents} still hidden from the patient in Visite d'annonce after more \
         than {days} {day_word} ({whose}: matricule ending {}). Once the patient has received \
         the accompaniment, change the mode to Normal, Restreint or Privé in your practice \
         software, or with `dspctl list <matricule> --mine-in-visite-annonce` then `dspctl mode \
         <matricule> <unique-id> normal`.",
        named.join(", ")
    )
}

/// What is kept between checks and restarts (beside the spool, 0600).
#[derive(Debug, Default, Serialize, Deserialize)]
struct Kept {
    /// Professional → patients with a document they uploaded in Visite
    /// d'annonce and not yet found changed.
    patients: BTreeMap<String, BTreeSet<String>>,
    /// Professional → uniqueId → when it was last reminded (Unix seconds).
    reminded: BTreeMap<String, BTreeMap<String, i64>>,
    /// The outbox jobs already taken into `patients` (so that a patient,
    /// once forgotten, is not taken again from the same job).
    #[serde(default)]
    jobs: BTreeSet<String>,
}

pub(crate) struct Reminders {
    path: PathBuf,
    kept: Mutex<Kept>,
    /// Wakes the task for a check now (the setting changed).
    wake: Notify,
}

impl Reminders {
    /// Loads what is kept beside `spool_dir`; an unreadable file is logged
    /// and started afresh (at worst a reminder comes again).
    pub(crate) fn open(spool_dir: &Path) -> Reminders {
        let folder = spool_dir.parent().unwrap_or(spool_dir);
        let path = folder.join(FILE_NAME);
        let kept = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(path = %path.display(), error = %e, "Visite d'annonce reminders unreadable; starting afresh");
                Kept::default()
            }),
            Err(_) => Kept::default(),
        };
        Reminders {
            path,
            kept: Mutex::new(kept),
            wake: Notify::new(),
        }
    }

    /// A check now (the reminder's setting changed).
    pub(crate) fn check_now(&self) {
        self.wake.notify_one();
    }

    fn save(&self, kept: &Kept) {
        match serde_json::to_vec(kept) {
            Ok(bytes) => {
                if let Err(e) = private_fs::write_atomically(&self.path, &bytes) {
                    tracing::warn!(path = %self.path.display(), error = %e, "cannot keep the Visite d'annonce reminders");
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot encode the Visite d'annonce reminders"),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Remembers the patient of a registered Visite d'annonce job, once per job.
    pub(crate) fn track(&self, job: &Job) {
        if job.mode != ConfidentialityMode::VisiteAnnonce || job.state != JobState::Done {
            return;
        }
        let mut kept = self.lock();
        if kept.jobs.insert(job.job_id.clone()) {
            kept.patients
                .entry(job.professional.clone())
                .or_default()
                .insert(job.patient.clone());
            self.save(&kept);
        }
    }

    /// Forgets the jobs the outbox no longer has (`present`: all it has).
    fn prune_jobs(&self, present: &BTreeSet<&str>) {
        let mut kept = self.lock();
        let before = kept.jobs.len();
        kept.jobs.retain(|id| present.contains(id.as_str()));
        if kept.jobs.len() != before {
            self.save(&kept);
        }
    }

    fn patients(&self, professional: &str) -> Vec<String> {
        self.lock()
            .patients
            .get(professional)
            .map(|p| p.iter().cloned().collect())
            .unwrap_or_default()
    }

    fn forget(&self, professional: &str, patients: &[String]) {
        if patients.is_empty() {
            return;
        }
        let mut kept = self.lock();
        if let Some(set) = kept.patients.get_mut(professional) {
            for p in patients {
                set.remove(p);
            }
        }
        self.save(&kept);
    }

    /// Whether `overdue` deserves a reminder now (one of them was not
    /// reminded in the last day); if so, records it as reminded.
    pub(crate) fn claim(
        &self,
        professional: &str,
        overdue: &[Pending],
        now: OffsetDateTime,
    ) -> bool {
        let mut kept = self.lock();
        let reminded = kept.reminded.entry(professional.to_owned()).or_default();
        let recent = |id: &str| {
            reminded
                .get(id)
                .and_then(|t| OffsetDateTime::from_unix_timestamp(*t).ok())
                .is_some_and(|t| now - t < REMIND_AGAIN_AFTER)
        };
        let due = overdue.iter().any(|p| !recent(&p.unique_id));
        // Documents no longer overdue are forgotten.
        let current: BTreeSet<&str> = overdue.iter().map(|p| p.unique_id.as_str()).collect();
        reminded.retain(|id, _| current.contains(id.as_str()));
        if due {
            for p in overdue {
                reminded.insert(p.unique_id.clone(), now.unix_timestamp());
            }
        }
        self.save(&kept);
        due
    }
}

/// Runs the reminder for the daemon's life.
pub(crate) fn spawn(
    core: Arc<Core>,
    reminders: Arc<Reminders>,
    events: broadcast::Sender<Event>,
) -> tokio::task::JoinHandle<()> {
    let mut jobs = events.subscribe();
    let mut sessions = core.session.watch_session();
    tokio::spawn(async move {
        catch_up(&core, &reminders);
        let mut professional: Option<String> = None;
        let mut tick = tokio::time::interval(CHECK_PERIOD);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            let run = tokio::select! {
                changed = sessions.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    // A new card session (not a renewal of the same one).
                    let now = sessions
                        .borrow_and_update()
                        .as_ref()
                        .filter(|s| s.can_reach_documents())
                        .map(|s| s.professional.ehealth_id.clone());
                    let fresh = now.is_some() && now != professional;
                    professional = now;
                    if fresh {
                        tick.reset();
                    }
                    fresh
                }
                _ = tick.tick() => true,
                () = reminders.wake.notified() => true,
                event = jobs.recv() => {
                    match event {
                        Ok(Event::Job { job }) => reminders.track(&job),
                        Ok(_) => {}
                        Err(broadcast::error::RecvError::Lagged(_)) => catch_up(&core, &reminders),
                        Err(broadcast::error::RecvError::Closed) => break,
                    }
                    false
                }
            };
            if run {
                check(&core, &reminders, &events, OffsetDateTime::now_utc()).await;
            }
        }
    })
}

/// The outbox's registered Visite d'annonce jobs (those done while the
/// task was not listening).
fn catch_up(core: &Core, reminders: &Reminders) {
    let jobs = core.outbox.jobs();
    for job in &jobs {
        reminders.track(job);
    }
    reminders.prune_jobs(&jobs.iter().map(|j| j.job_id.as_str()).collect());
}

/// One check: lists the tracked patients' documents and sends the reminder
/// when due. Logs one line saying what it found.
async fn check(
    core: &Core,
    reminders: &Reminders,
    events: &broadcast::Sender<Event>,
    now: OffsetDateTime,
) {
    let days = core
        .config
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .tray
        .visite_annonce_reminder_days;
    if days == 0 {
        tracing::info!(
            "Visite d'annonce reminder check: off (tray.visite_annonce_reminder_days = 0)"
        );
        return;
    }
    let Some(session) = core
        .session
        .current_session()
        .filter(|s| s.can_reach_documents())
    else {
        tracing::info!("Visite d'annonce reminder check: no card session");
        return;
    };
    catch_up(core, reminders);
    let professional = session.professional.ehealth_id.clone();
    let cutoff = now - time::Duration::days(i64::from(days));
    let mut overdue = Vec::new();
    let mut cleared = Vec::new();
    let mut failed = 0usize;
    let patients = reminders.patients(&professional);
    for patient in &patients {
        let Ok(matricule) = patient.parse::<Matricule>() else {
            cleared.push(patient.clone());
            continue;
        };
        let query = ListParams {
            patient: matricule.as_digits(),
            ..ListParams::default()
        };
        let result = core
            .platform
            .current()
            .list(&session.assertion, &matricule, &query)
            .await;
        let mut record = AuditRecord::now(
            AuditAction::DocumentList,
            match &result {
                Ok(_) => AuditOutcome::Ok,
                Err(_) => AuditOutcome::Failed,
            },
        );
        record.professional = EHealthId::new(&professional).ok();
        record.patient = PatientMatricule::new(matricule.as_digits()).ok();
        record.mode = Some(ConfidentialityMode::VisiteAnnonce);
        record.error_code = result.as_ref().err().map(|e| e.code());
        if let Err(e) = core.audit.record(&record) {
            tracing::error!(error = %e, "the audit log cannot be written");
        }
        let documents = match result {
            Ok(d) => d,
            Err(error) => {
                failed += 1;
                tracing::warn!(%error, "Visite d'annonce reminder: a patient's documents could not be listed; tried again at the next check");
                continue;
            }
        };
        let mine: Vec<&DocumentSummary> = documents
            .iter()
            .filter(|d| is_mine_in_visite_annonce(d, &professional))
            .collect();
        if mine.is_empty() {
            cleared.push(patient.clone());
        }
        for d in mine {
            // A date that cannot be read counts as overdue: better a reminder too many.
            let registered = registered_at(d).unwrap_or(OffsetDateTime::UNIX_EPOCH);
            if registered <= cutoff {
                overdue.push(Pending {
                    patient: matricule.as_digits(),
                    unique_id: d.unique_id.clone(),
                });
            }
        }
    }
    reminders.forget(&professional, &cleared);
    let reminded = reminders.claim(&professional, &overdue, now);
    if reminded {
        let _ = events.send(Event::Notice {
            message: message(&overdue, days),
        });
    }
    tracing::info!(
        patients = patients.len(),
        failed,
        overdue = overdue.len(),
        reminded,
        "Visite d'annonce reminder check done"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(patient: &str, id: &str) -> Pending {
        Pending {
            patient: patient.into(),
            unique_id: id.into(),
        }
    }

    #[test]
    fn the_message_counts_and_masks() {
        let m = message(
            &[
                pending("1945093006704", "2.25.1"),
                pending("1945093006704", "2.25.2"),
                pending("2005062201818", "2.25.3"),
            ],
            7,
        );
        let (summary, body) = m.split_once('\n').unwrap();
        assert_eq!(summary, SUMMARY);
        assert!(body.starts_with("3 of your documents are"), "{body}");
        assert!(body.contains("after more than 7 days"), "{body}");
        assert!(body.contains("…6704, …1818"), "{body}");
        assert!(!body.contains("19450930"), "{body}");
        assert!(!body.contains("2.25."), "{body}");
        assert!(body.contains("dspctl mode"), "{body}");
        let one = message(&[pending("1945093006704", "2.25.1")], 1);
        assert!(one.contains("1 of your documents is"), "{one}");
        assert!(
            one.contains("1 day (1 patient: matricule ending …6704)"),
            "{one}"
        );
    }

    #[test]
    fn many_patients_are_not_all_named() {
        let many: Vec<Pending> = (0..8)
            .map(|i| pending(&format!("194509300670{i}"), &format!("2.25.{i}")))
            .collect();
        let m = message(&many, 7);
        assert!(m.contains("and 3 more"), "{m}");
    }

    #[test]
    fn the_same_documents_are_reminded_once_a_day() {
        let dir = tempfile::tempdir().unwrap();
        let spool = dir.path().join("spool");
        let r = Reminders::open(&spool);
        let t0 = OffsetDateTime::now_utc();
        let a = pending("1945093006704", "2.25.1");
        let b = pending("1945093006704", "2.25.2");
        assert!(r.claim("SBX1001", std::slice::from_ref(&a), t0));
        assert!(!r.claim(
            "SBX1001",
            std::slice::from_ref(&a),
            t0 + time::Duration::hours(5)
        ));
        // Another professional's reminders are their own.
        assert!(r.claim("SBX1002", std::slice::from_ref(&a), t0));
        // A new overdue document brings a reminder (of both).
        assert!(r.claim(
            "SBX1001",
            &[a.clone(), b.clone()],
            t0 + time::Duration::hours(6)
        ));
        // Kept across restarts.
        let reopened = Reminders::open(&spool);
        assert!(!reopened.claim(
            "SBX1001",
            &[a.clone(), b.clone()],
            t0 + time::Duration::hours(7)
        ));
        assert!(reopened.claim("SBX1001", &[a, b], t0 + time::Duration::hours(31)));
    }

    #[test]
    fn patients_are_tracked_until_cleared() {
        let dir = tempfile::tempdir().unwrap();
        let spool = dir.path().join("spool");
        let r = Reminders::open(&spool);
        let job = |id: &str, patient: &str, mode, state| Job {
            job_id: id.into(),
            state,
            unique_id: format!("2.25.{id}"),
            patient: patient.into(),
            title: "t".into(),
            mode,
            professional: "SBX1001".into(),
            replaces: None,
            attempts: 1,
            size: 1,
            sent: 1,
            created_at: String::new(),
            updated_at: String::new(),
            error: None,
        };
        let marie = job(
            "1",
            "1945093006704",
            ConfidentialityMode::VisiteAnnonce,
            JobState::Done,
        );
        let tom = job(
            "2",
            "2005062201818",
            ConfidentialityMode::VisiteAnnonce,
            JobState::Done,
        );
        r.track(&marie);
        r.track(&tom);
        r.track(&job(
            "3",
            "1234567890123",
            ConfidentialityMode::Normal,
            JobState::Done,
        ));
        r.track(&job(
            "4",
            "1234567890124",
            ConfidentialityMode::VisiteAnnonce,
            JobState::Queued,
        ));
        r.forget("SBX1001", &["2005062201818".to_owned()]);
        let reopened = Reminders::open(&spool);
        assert_eq!(reopened.patients("SBX1001"), vec!["1945093006704"]);
        assert!(reopened.patients("SBX1002").is_empty());
        // The same job does not bring a forgotten patient back.
        reopened.track(&tom);
        assert_eq!(reopened.patients("SBX1001"), vec!["1945093006704"]);
        // Once the outbox forgot the job, its id goes too.
        reopened.prune_jobs(&["1"].into_iter().collect());
        assert_eq!(reopened.lock().jobs.len(), 1);
    }
}
