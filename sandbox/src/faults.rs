//! Fault injection: a share of the calls to chosen paths (the XDS and IdP
//! endpoints, for the daemon's reliability tests) answered `503`, delayed,
//! cut in the middle of the answer, or processed and then answered with a
//! cut connection — the "lost answer after a successful registration" a
//! client must recover from by reading the entry back.
//!
//! A [`FaultPlan`] says, per path prefix, which share of calls gets which
//! fault; [`FaultInjector`] is the shared handle the server's layer reads
//! and the admin API (`PUT /admin/api/faults`) sets. With a seed, the
//! sequence of faults is reproducible: each call to a faulted path draws
//! one number from a PRNG seeded when the plan is set, in arrival order.
//!
//! `/admin/…` and `/health` are never faulted, so that a plan can always be
//! lifted and the sandbox's liveness seen.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

/// Longest delay a plan may ask for.
pub const MAX_DELAY: Duration = Duration::from_secs(600);

/// How long a cut answer waits after its first bytes before breaking the
/// connection, so that those bytes are on the wire when it breaks.
const CUT_PAUSE: Duration = Duration::from_millis(50);

/// Paths no plan reaches: the admin API (to lift a plan) and the health check.
fn never_faulted(path: &str) -> bool {
    path == "/health" || path == "/admin" || path.starts_with("/admin/")
}

/// Which calls get which fault. The JSON form is what
/// `PUT /admin/api/faults` takes:
///
/// ```json
/// { "seed": 7, "rules": [ { "path_prefix": "/xds/", "unavailable_percent": 10,
///   "delay_percent": 10, "delay_ms": 3000, "cut_percent": 5, "lost_answer_percent": 5 } ] }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultPlan {
    /// Seed of the draws; without one, every plan draws differently.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// One rule per path prefix; a call follows the rule with the longest
    /// prefix of its path.
    #[serde(default)]
    pub rules: Vec<FaultRule>,
}

/// The shares of calls under one path prefix that get each fault. The
/// shares are exclusive (one draw per call decides), so they add up to at
/// most 100; the rest of the calls are served normally.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    /// `/xds/`, `/xds/repository`, `/SAML2Server/`…: matched against the
    /// start of the request path.
    pub path_prefix: String,
    /// Percentage answered `503 Service Unavailable` without being processed.
    #[serde(default)]
    pub unavailable_percent: u8,
    /// Percentage held for [`FaultRule::delay_ms`], then processed normally.
    #[serde(default)]
    pub delay_percent: u8,
    #[serde(default)]
    pub delay_ms: u64,
    /// Percentage processed, then answered with the status line, the
    /// headers and half of the first chunk of the body before the
    /// connection breaks.
    #[serde(default)]
    pub cut_percent: u8,
    /// Percentage processed (a submission is registered), then answered by
    /// breaking the connection before any byte of the answer.
    #[serde(default)]
    pub lost_answer_percent: u8,
}

impl FaultRule {
    fn total_percent(&self) -> u32 {
        [
            self.unavailable_percent,
            self.delay_percent,
            self.cut_percent,
            self.lost_answer_percent,
        ]
        .iter()
        .map(|&p| u32::from(p))
        .sum()
    }

    /// The fault for a draw in `0..100`.
    fn fault_for(&self, draw: u32) -> Option<Fault> {
        let mut bound = 0;
        for (percent, fault) in [
            (self.unavailable_percent, Fault::Unavailable),
            (
                self.delay_percent,
                Fault::Delay(Duration::from_millis(self.delay_ms)),
            ),
            (self.cut_percent, Fault::CutMidResponse),
            (self.lost_answer_percent, Fault::LostAnswer),
        ] {
            bound += u32::from(percent);
            if draw < bound {
                return Some(fault);
            }
        }
        None
    }
}

/// Why a plan is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FaultPlanError {
    #[error("fault rule path_prefix '{prefix}' does not start with '/': give a path such as /xds/")]
    RelativePrefix { prefix: String },
    #[error(
        "fault rule path_prefix '{prefix}' only covers the admin API or the health check, which are never faulted"
    )]
    ControlPath { prefix: String },
    #[error("two fault rules have the path_prefix '{prefix}': merge them into one")]
    DuplicatePrefix { prefix: String },
    #[error(
        "the shares of fault rule '{prefix}' add up to {total}%: one draw decides a call's fault, so they add up to at most 100"
    )]
    SharesOver100 { prefix: String, total: u32 },
    #[error(
        "fault rule '{prefix}' delays {percent}% of calls by 0 ms: set delay_ms, or delay_percent to 0"
    )]
    DelayWithoutDuration { prefix: String, percent: u8 },
    #[error("fault rule '{prefix}' delays calls by {delay_ms} ms: at most {} ms", MAX_DELAY.as_millis())]
    DelayTooLong { prefix: String, delay_ms: u64 },
}

impl FaultPlan {
    /// No faults.
    pub fn none() -> Self {
        FaultPlan::default()
    }

    /// Checks the plan (see [`FaultPlanError`]).
    pub fn validate(&self) -> Result<(), FaultPlanError> {
        for (index, rule) in self.rules.iter().enumerate() {
            let prefix = || rule.path_prefix.clone();
            if !rule.path_prefix.starts_with('/') {
                return Err(FaultPlanError::RelativePrefix { prefix: prefix() });
            }
            if never_faulted(rule.path_prefix.trim_end_matches('/'))
                || rule.path_prefix.starts_with("/admin/")
            {
                return Err(FaultPlanError::ControlPath { prefix: prefix() });
            }
            if self.rules[..index]
                .iter()
                .any(|other| other.path_prefix == rule.path_prefix)
            {
                return Err(FaultPlanError::DuplicatePrefix { prefix: prefix() });
            }
            let total = rule.total_percent();
            if total > 100 {
                return Err(FaultPlanError::SharesOver100 {
                    prefix: prefix(),
                    total,
                });
            }
            if rule.delay_percent > 0 && rule.delay_ms == 0 {
                return Err(FaultPlanError::DelayWithoutDuration {
                    prefix: prefix(),
                    percent: rule.delay_percent,
                });
            }
            if Duration::from_millis(rule.delay_ms) > MAX_DELAY {
                return Err(FaultPlanError::DelayTooLong {
                    prefix: prefix(),
                    delay_ms: rule.delay_ms,
                });
            }
        }
        Ok(())
    }

    /// The rule for `path`: the one with the longest matching prefix.
    fn rule_for(&self, path: &str) -> Option<&FaultRule> {
        if never_faulted(path) {
            return None;
        }
        self.rules
            .iter()
            .filter(|rule| path.starts_with(&rule.path_prefix))
            .max_by_key(|rule| rule.path_prefix.len())
    }
}

/// What happens to one call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    Unavailable,
    Delay(Duration),
    CutMidResponse,
    LostAnswer,
}

impl Fault {
    fn name(self) -> &'static str {
        match self {
            Fault::Unavailable => "unavailable",
            Fault::Delay(_) => "delay",
            Fault::CutMidResponse => "cut",
            Fault::LostAnswer => "lost_answer",
        }
    }
}

struct Injection {
    plan: FaultPlan,
    rng: fastrand::Rng,
}

/// The shared handle on the fault plan in force. Cheap to clone; all clones
/// share the plan and its draws.
#[derive(Clone)]
pub struct FaultInjector {
    state: Arc<Mutex<Injection>>,
}

impl std::fmt::Debug for FaultInjector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultInjector")
            .field("plan", &self.plan())
            .finish()
    }
}

impl Default for FaultInjector {
    fn default() -> Self {
        FaultInjector::new()
    }
}

impl FaultInjector {
    /// An injector with no faults.
    pub fn new() -> Self {
        FaultInjector {
            state: Arc::new(Mutex::new(Injection {
                plan: FaultPlan::none(),
                rng: fastrand::Rng::new(),
            })),
        }
    }

    /// Puts `plan` in force (after checking it), restarting the draws from
    /// its seed.
    pub fn set(&self, plan: FaultPlan) -> Result<(), FaultPlanError> {
        plan.validate()?;
        let rng = plan
            .seed
            .map_or_else(fastrand::Rng::new, fastrand::Rng::with_seed);
        let mut state = self.lock();
        *state = Injection { plan, rng };
        Ok(())
    }

    /// Lifts every fault.
    pub fn clear(&self) {
        self.lock().plan = FaultPlan::none();
    }

    /// The plan in force.
    pub fn plan(&self) -> FaultPlan {
        self.lock().plan.clone()
    }

    /// The fault for one call to `path` (one draw when a rule applies).
    pub fn draw(&self, path: &str) -> Option<Fault> {
        let mut state = self.lock();
        let Injection { plan, rng } = &mut *state;
        let rule = plan.rule_for(path)?;
        rule.fault_for(rng.u32(0..100))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Injection> {
        // The state is replaced whole or read; a panic elsewhere cannot
        // leave it half-written, so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Wraps every route of `router` with the injector.
pub(crate) fn layer(router: Router, injector: FaultInjector) -> Router {
    router.layer(middleware::from_fn_with_state(injector, inject))
}

async fn inject(State(injector): State<FaultInjector>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let Some(fault) = injector.draw(&path) else {
        return next.run(request).await;
    };
    tracing::info!(fault = fault.name(), "SANDBOX fault injection");
    match fault {
        Fault::Unavailable => unavailable(),
        Fault::Delay(delay) => {
            tokio::time::sleep(delay).await;
            next.run(request).await
        }
        Fault::CutMidResponse => {
            let response = next.run(request).await;
            let (parts, body) = response.into_parts();
            Response::from_parts(parts, cut_after_first_half(body))
        }
        Fault::LostAnswer => {
            let response = next.run(request).await;
            // The work is done (the submission registered); the answer is
            // dropped and the connection broken before its first byte:
            // hyper writes nothing when the body fails at its first poll.
            drop(response);
            Response::new(broken_body())
        }
    }
}

fn unavailable() -> Response {
    let mut response = (
        StatusCode::SERVICE_UNAVAILABLE,
        "SANDBOX: service unavailable (fault injection)\n",
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

fn injected_error() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::ConnectionAborted,
        "SANDBOX fault injection: connection cut",
    )
}

/// A body that fails at once.
fn broken_body() -> Body {
    Body::from_stream(futures_util::stream::once(async {
        Err::<Bytes, _>(injected_error())
    }))
}

/// The first half of the body's first chunk, a pause (so that it leaves
/// the server), then a failure that breaks the connection.
fn cut_after_first_half(body: Body) -> Body {
    let first_half = futures_util::stream::once(async move {
        let mut data = body.into_data_stream();
        match data.next().await {
            Some(Ok(chunk)) => Ok(chunk.slice(..chunk.len() / 2)),
            Some(Err(error)) => Err(std::io::Error::other(error)),
            None => Ok(Bytes::new()),
        }
    });
    let cut = futures_util::stream::once(async {
        tokio::time::sleep(CUT_PAUSE).await;
        Err::<Bytes, _>(injected_error())
    });
    Body::from_stream(first_half.chain(cut))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(prefix: &str) -> FaultRule {
        FaultRule {
            path_prefix: prefix.into(),
            ..FaultRule::default()
        }
    }

    #[test]
    fn plans_that_cannot_be_followed_are_refused_with_the_reason() {
        let over = FaultPlan {
            seed: None,
            rules: vec![FaultRule {
                unavailable_percent: 60,
                lost_answer_percent: 50,
                ..rule("/xds/")
            }],
        };
        assert_eq!(
            over.validate(),
            Err(FaultPlanError::SharesOver100 {
                prefix: "/xds/".into(),
                total: 110
            })
        );
        for (prefix, expected) in [
            ("xds", "does not start with '/'"),
            ("/admin/api/", "never faulted"),
            ("/health", "never faulted"),
        ] {
            let error = FaultPlan {
                seed: None,
                rules: vec![rule(prefix)],
            }
            .validate()
            .unwrap_err();
            assert!(error.to_string().contains(expected), "{error}");
        }
        let no_delay = FaultPlan {
            seed: None,
            rules: vec![FaultRule {
                delay_percent: 5,
                ..rule("/xds/")
            }],
        };
        assert!(matches!(
            no_delay.validate(),
            Err(FaultPlanError::DelayWithoutDuration { .. })
        ));
        let twice = FaultPlan {
            seed: None,
            rules: vec![rule("/xds/"), rule("/xds/")],
        };
        assert!(matches!(
            twice.validate(),
            Err(FaultPlanError::DuplicatePrefix { .. })
        ));
    }

    #[test]
    fn the_longest_prefix_decides_and_control_paths_are_never_faulted() {
        let plan = FaultPlan {
            seed: Some(1),
            rules: vec![
                FaultRule {
                    unavailable_percent: 100,
                    ..rule("/")
                },
                FaultRule {
                    lost_answer_percent: 100,
                    ..rule("/xds/repository")
                },
            ],
        };
        let injector = FaultInjector::new();
        injector.set(plan).unwrap();
        assert_eq!(injector.draw("/xds/repository"), Some(Fault::LostAnswer));
        assert_eq!(injector.draw("/xds/registry"), Some(Fault::Unavailable));
        assert_eq!(injector.draw("/admin/api/faults"), None);
        assert_eq!(injector.draw("/health"), None);
        injector.clear();
        assert_eq!(injector.draw("/xds/registry"), None);
    }

    #[test]
    fn a_seed_makes_the_draws_reproducible_and_the_shares_hold() {
        let plan = FaultPlan {
            seed: Some(42),
            rules: vec![FaultRule {
                unavailable_percent: 20,
                delay_percent: 10,
                delay_ms: 5,
                cut_percent: 30,
                lost_answer_percent: 10,
                ..rule("/xds/")
            }],
        };
        let draws = |plan: &FaultPlan| {
            let injector = FaultInjector::new();
            injector.set(plan.clone()).unwrap();
            (0..10_000)
                .map(|_| injector.draw("/xds/registry"))
                .collect::<Vec<_>>()
        };
        let first = draws(&plan);
        assert_eq!(first, draws(&plan));
        let count = |fault: Option<Fault>| first.iter().filter(|f| **f == fault).count();
        // Within 2 points of the share over 10,000 draws.
        for (fault, share) in [
            (Some(Fault::Unavailable), 2000),
            (Some(Fault::Delay(Duration::from_millis(5))), 1000),
            (Some(Fault::CutMidResponse), 3000),
            (Some(Fault::LostAnswer), 1000),
            (None, 3000),
        ] {
            let seen = count(fault);
            assert!(seen.abs_diff(share) < 200, "{fault:?}: {seen}");
        }
        let other = FaultPlan {
            seed: Some(43),
            ..plan.clone()
        };
        assert_ne!(first, draws(&other));
    }

    #[test]
    fn the_json_form_is_the_documented_one() {
        let plan: FaultPlan = serde_json::from_str(
            r#"{ "seed": 7, "rules": [ { "path_prefix": "/xds/", "unavailable_percent": 10,
                 "delay_percent": 10, "delay_ms": 3000, "cut_percent": 5, "lost_answer_percent": 5 } ] }"#,
        )
        .unwrap();
        assert_eq!(plan.seed, Some(7));
        assert_eq!(plan.rules[0].delay_ms, 3000);
        assert!(plan.validate().is_ok());
        assert!(
            serde_json::from_str::<FaultPlan>(r#"{"rules":[{"path_prefix":"/","oops":1}]}"#)
                .is_err()
        );
    }
}
