//! Issue 4's durability acceptance: `kill -9` of the daemon after a push
//! was acknowledged and during its upload, the platform down and back,
//! the sandbox's injected faults, and a job that never uploads in another
//! professional's session. Each document must be in the DSP exactly once.

mod daemon_support;

use std::time::{Duration, Instant};

use daemon_support::*;
use dspconnect::ipc::client::Client;
use dspconnect::ipc::protocol::*;
use dspconnect::model::ConfidentialityMode;
use dspconnect_sandbox::faults::{FaultPlan, FaultRule};

const MARIE: &str = "1945093006704";

struct Setup {
    sandbox: ExternalSandbox,
    home: DaemonHome,
    card: String,
    pin: String,
}

fn setup() -> Setup {
    let sandbox = ExternalSandbox::start();
    let home = DaemonHome::new();
    let (card, pin) = sandbox.export_card("SBX1001", sandbox.dir.path());
    home.write_config(sandbox.profile(), |c| {
        // Quick retries, so the tests do not wait minutes.
        c.outbox.retry_base_seconds = 1;
        c.outbox.retry_max_seconds = 2;
    });
    Setup {
        sandbox,
        home,
        card: card.display().to_string(),
        pin,
    }
}

impl Setup {
    fn start(&self) -> (Daemon, Client) {
        let daemon = Daemon::start(&self.home, &["--software-card", &self.card]);
        let mut client = daemon.client();
        unlock(&mut client, &self.pin);
        (daemon, client)
    }

    /// How many entries with `title` the registry holds for Marie
    /// (deprecated ones included): a re-sent document would show twice.
    fn registered(&self, client: &mut Client, title: &str) -> usize {
        client
            .call::<List>(&ListParams {
                patient: MARIE.to_owned(),
                include_deprecated: true,
                ..ListParams::default()
            })
            .expect("list")
            .documents
            .iter()
            .filter(|d| d.title == title)
            .count()
    }
}

fn push(client: &mut Client, title: &str, size: usize) -> PushAccepted {
    use base64::Engine as _;
    let content = pdf(size, title.len() as u8);
    client
        .call::<Push>(&PushParams {
            source: DocumentSource::Base64(
                base64::engine::general_purpose::STANDARD.encode(content),
            ),
            metadata: metadata(MARIE, title, ConfidentialityMode::Normal),
        })
        .expect("push accepted")
}

fn rule(prefix: &str, edit: impl FnOnce(&mut FaultRule)) -> FaultPlan {
    let mut rule = FaultRule {
        path_prefix: prefix.to_owned(),
        ..FaultRule::default()
    };
    edit(&mut rule);
    FaultPlan {
        seed: Some(7),
        rules: vec![rule],
    }
}

/// Waits until the job is in `state` (or panics after `within`).
fn wait_state(client: &mut Client, job_id: &str, state: JobState, within: Duration) -> Job {
    let deadline = Instant::now() + within;
    loop {
        let job = client
            .call::<JobStatus>(&JobRef {
                job_id: job_id.to_owned(),
            })
            .expect("job.status");
        if job.state == state {
            return job;
        }
        assert!(
            Instant::now() < deadline,
            "job never reached {state:?}: {job:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn kill_9_after_the_acknowledgement_and_during_the_upload_loses_and_doubles_nothing() {
    let s = setup();
    let (mut daemon, mut client) = s.start();

    // Killed right after the acknowledgement.
    let first = push(&mut client, "Crash après accusé", 50_000);
    daemon.kill9();

    // Killed while the platform holds the upload.
    let (mut daemon2, mut client2) = s.start();
    s.sandbox.set_faults(rule("/xds/repository", |r| {
        r.delay_percent = 100;
        r.delay_ms = 2_000;
    }));
    let second = push(&mut client2, "Crash pendant envoi", 200_000);
    wait_state(
        &mut client2,
        &second.job_id,
        JobState::Uploading,
        Duration::from_secs(30),
    );
    std::thread::sleep(Duration::from_millis(300));
    daemon2.kill9();
    drop(daemon);

    s.sandbox.clear_faults();
    let (daemon3, mut client3) = s.start();
    for accepted in [&first, &second] {
        let job = wait_job(&mut client3, &accepted.job_id, Duration::from_secs(120));
        assert_eq!(job.state, JobState::Done, "{job:?}\n{}", daemon3.logs());
    }
    assert_eq!(s.registered(&mut client3, "Crash après accusé"), 1);
    assert_eq!(s.registered(&mut client3, "Crash pendant envoi"), 1);
}

#[test]
fn faults_and_an_outage_delay_uploads_but_never_double_them() {
    let s = setup();
    let (daemon, mut client) = s.start();
    let cases: [(&str, FaultPlan); 4] = [
        ("503", rule("/xds/", |r| r.unavailable_percent = 100)),
        ("coupure", rule("/xds/repository", |r| r.cut_percent = 100)),
        (
            "réponse perdue",
            rule("/xds/repository", |r| r.lost_answer_percent = 100),
        ),
        (
            "lenteur",
            rule("/xds/", |r| {
                r.delay_percent = 100;
                r.delay_ms = 1_500;
            }),
        ),
    ];
    for (name, plan) in cases {
        s.sandbox.set_faults(plan);
        let title = format!("Faute {name}");
        let accepted = push(&mut client, &title, 20_000);
        // Let it meet the fault at least once.
        std::thread::sleep(Duration::from_millis(1_500));
        s.sandbox.clear_faults();
        let job = wait_job(&mut client, &accepted.job_id, Duration::from_secs(90));
        assert_eq!(
            job.state,
            JobState::Done,
            "{name}: {job:?}\n{}",
            daemon.logs()
        );
        assert_eq!(s.registered(&mut client, &title), 1, "{name}");
    }
    // The platform down (connections refused), then up again.
    let mut s = s;
    let port = s.sandbox.stop();
    let accepted = push(&mut client, "Pendant la panne", 20_000);
    std::thread::sleep(Duration::from_secs(3));
    let waiting = client
        .call::<JobStatus>(&JobRef {
            job_id: accepted.job_id.clone(),
        })
        .expect("job.status");
    assert!(!waiting.state.is_final(), "{waiting:?}");
    s.sandbox.start_again(port);
    let job = wait_job(&mut client, &accepted.job_id, Duration::from_secs(90));
    assert_eq!(
        job.state,
        JobState::Done,
        "outage: {job:?}\n{}",
        daemon.logs()
    );
    assert_eq!(s.registered(&mut client, "Pendant la panne"), 1);

    // Twice with no fault at all: each once.
    for title in ["Sans faute 1", "Sans faute 2"] {
        let accepted = push(&mut client, title, 20_000);
        assert_eq!(
            wait_job(&mut client, &accepted.job_id, Duration::from_secs(60)).state,
            JobState::Done
        );
        assert_eq!(s.registered(&mut client, title), 1);
    }
}

#[test]
fn a_job_never_uploads_in_another_professionals_session() {
    let s = setup();
    let (mut daemon, mut client) = s.start();
    // The platform is unavailable: the job stays queued for Dr Weber.
    s.sandbox
        .set_faults(rule("/xds/", |r| r.unavailable_percent = 100));
    let accepted = push(&mut client, "Document de SBX1001", 20_000);
    std::thread::sleep(Duration::from_millis(500));
    daemon.stop();
    s.sandbox.clear_faults();

    // Another professional's card and session in the same daemon home.
    let (other_card, other_pin) = s.sandbox.export_card("SBX1002", s.sandbox.dir.path());
    let other = Daemon::start(&s.home, &["--software-card", other_card.to_str().unwrap()]);
    let mut other_client = other.client();
    unlock(&mut other_client, &other_pin);
    let job = wait_state(
        &mut other_client,
        &accepted.job_id,
        JobState::WaitingForSession,
        Duration::from_secs(30),
    );
    assert_eq!(job.professional, "SBX1001");
    std::thread::sleep(Duration::from_secs(3));
    let job = other_client
        .call::<JobStatus>(&JobRef {
            job_id: accepted.job_id.clone(),
        })
        .unwrap();
    assert_eq!(job.state, JobState::WaitingForSession, "{job:?}");
    drop(other_client);
    drop(other);

    // Its own professional's session sends it.
    let (_daemon, mut client) = s.start();
    let job = wait_job(&mut client, &accepted.job_id, Duration::from_secs(60));
    assert_eq!(job.state, JobState::Done, "{job:?}");
    assert_eq!(s.registered(&mut client, "Document de SBX1001"), 1);
}

/// Long test mode: many random kill points; every document exactly once.
#[test]
#[ignore = "long test mode (scripts/test.sh --long)"]
fn many_random_kill_points_never_lose_or_double_a_document() {
    let s = setup();
    let mut titles = Vec::new();
    let mut jobs = Vec::new();
    let mut seed: u64 = 0x5eed;
    for round in 0..25 {
        let (mut daemon, mut client) = s.start();
        let title = format!("Aléatoire {round}");
        jobs.push(push(&mut client, &title, 10_000 + round * 7_919).job_id);
        titles.push(title);
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        std::thread::sleep(Duration::from_millis((seed >> 33) % 400));
        daemon.kill9();
    }
    let (daemon, mut client) = s.start();
    for job_id in &jobs {
        let job = wait_job(&mut client, job_id, Duration::from_secs(120));
        assert_eq!(job.state, JobState::Done, "{job:?}\n{}", daemon.logs());
    }
    for title in &titles {
        assert_eq!(s.registered(&mut client, title), 1, "{title}");
    }
}
