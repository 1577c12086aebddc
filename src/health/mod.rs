//! Health, as Kubernetes, load balancers and operators read it (README:
//! "Operating it").
//!
//! Three components: `redis` (it answers), `scripts` (every script is
//! loaded on every node, its SHA verified) and `draining` (shutdown has
//! begun). `""` and every registered `rmw.v1` service are SERVING only
//! while all three are well; a background check reloads missing scripts,
//! so the service heals itself when Redis returns, and a call that finds
//! Redis unavailable brings that check forward. `liveness` is SERVING
//! while the process can serve at all, so a Redis outage makes pods
//! unready, not restarted. Everything turns NOT_SERVING when shutdown
//! begins. AdminService's GetHealth reports each component.

mod service;

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, SystemTime},
};

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tonic_health::{ServingStatus, server::HealthReporter};

pub use service::DrainingHealth;

use crate::{deadline::Deadline, error::Error, redis::Redis};

/// The least time between two checks brought forward by failed calls.
const TROUBLE_GAP: Duration = Duration::from_millis(50);

/// The health service name of the liveness probe.
pub const LIVENESS: &str = "liveness";

/// A part of the service whose health is reported on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Component {
    /// Redis answers.
    Redis,
    /// Every script is loaded on every node, its SHA verified.
    Scripts,
    /// The service is not shutting down.
    Draining,
}

impl Component {
    /// Every component, in report order.
    pub const ALL: [Component; 3] = [Self::Redis, Self::Scripts, Self::Draining];

    /// The component's name in reports.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Redis => "redis",
            Self::Scripts => "scripts",
            Self::Draining => "draining",
        }
    }
}

/// One component's state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct State {
    /// Whether it lets the service serve.
    pub serving: bool,
    /// Why not, or what is well.
    pub detail: String,
    /// When it last changed.
    pub since: SystemTime,
}

/// The service's health: per component, and as the gRPC health service
/// reports it. Cheap to clone.
#[derive(Clone)]
pub struct Health {
    reporter: HealthReporter,
    services: Vec<&'static str>,
    states: Arc<Mutex<[State; 3]>>,
}

impl Health {
    /// Health of `""` and `services`, reported through `reporter`; nothing
    /// is well before the first check.
    #[must_use]
    pub fn new(reporter: HealthReporter, services: Vec<&'static str>) -> Self {
        let state = |serving, detail: &str| State {
            serving,
            detail: detail.to_owned(),
            since: SystemTime::now(),
        };
        Self {
            reporter,
            services,
            states: Arc::new(Mutex::new([
                state(false, "not checked yet"),
                state(false, "not checked yet"),
                state(true, "serving"),
            ])),
        }
    }

    /// Every component and its state.
    #[must_use]
    pub fn components(&self) -> Vec<(Component, State)> {
        let states = self.states.lock().unwrap_or_else(PoisonError::into_inner);
        Component::ALL
            .into_iter()
            .zip(states.iter().cloned())
            .collect()
    }

    /// Whether every component is well.
    #[must_use]
    pub fn serving(&self) -> bool {
        let states = self.states.lock().unwrap_or_else(PoisonError::into_inner);
        states.iter().all(|s| s.serving)
    }

    /// Records `component`'s state; returns whether the service as a whole
    /// now serves.
    fn record(&self, component: Component, serving: bool, detail: String) -> bool {
        let mut states = self.states.lock().unwrap_or_else(PoisonError::into_inner);
        let state = &mut states[component as usize];
        if state.serving != serving || state.detail != detail {
            *state = State {
                serving,
                detail,
                since: SystemTime::now(),
            };
        }
        states.iter().all(|s| s.serving)
    }

    /// Sets `""` and every service to `status`.
    async fn report(&self, status: ServingStatus) {
        self.reporter.set_service_status("", status).await;
        for service in &self.services {
            self.reporter.set_service_status(*service, status).await;
        }
    }

    /// The statuses before the first check: alive, not ready.
    pub async fn starting(&self) {
        self.report(ServingStatus::NotServing).await;
        self.reporter
            .set_service_status(LIVENESS, ServingStatus::Serving)
            .await;
    }

    /// Sets everything, `liveness` included, to NOT_SERVING: the process is
    /// going away.
    pub async fn shut_down(&self) {
        self.record(Component::Draining, false, "shutting down".to_owned());
        self.report(ServingStatus::NotServing).await;
        self.reporter
            .set_service_status(LIVENESS, ServingStatus::NotServing)
            .await;
    }

    /// Records what a check of Redis and its scripts found; returns whether
    /// the service as a whole now serves.
    fn checked(&self, result: &Result<(), Error>) -> bool {
        match result {
            Ok(()) => {
                self.record(Component::Redis, true, "answering".to_owned());
                self.record(Component::Scripts, true, "all loaded".to_owned())
            }
            // Redis did not answer: the scripts' state is not known.
            Err(error @ (Error::Unavailable(_) | Error::DeadlineExceeded)) => {
                let detail = match error {
                    Error::DeadlineExceeded => "no answer in time".to_owned(),
                    other => other.to_string(),
                };
                self.record(Component::Redis, false, detail);
                self.record(
                    Component::Scripts,
                    false,
                    "redis is not answering".to_owned(),
                )
            }
            Err(error) => {
                self.record(Component::Redis, true, "answering".to_owned());
                self.record(Component::Scripts, false, error.to_string())
            }
        }
    }

    /// Checks Redis and its scripts every `interval` and reports the result
    /// until `stop` is cancelled.
    pub async fn watch(self, redis: Redis, interval: Duration, stop: CancellationToken) {
        // A check gets at least a second: a slower answer means Redis is
        // stalled, and the pods should leave the load balancer.
        let patience = interval.max(Duration::from_secs(1));
        let mut serving = None;
        while !stop.is_cancelled() {
            let checked = Instant::now();
            let result = redis.check_scripts(Deadline::after(patience)).await;
            // Shutdown's NOT_SERVING must not be overwritten by a check
            // that was under way when it began.
            if stop.is_cancelled() {
                break;
            }
            let now = self.checked(&result);
            if serving != Some(now) {
                match &result {
                    Ok(()) => tracing::info!("redis ready, scripts loaded: SERVING"),
                    Err(error) => tracing::warn!(%error, "redis not ready: NOT_SERVING"),
                }
                let status = if now {
                    ServingStatus::Serving
                } else {
                    ServingStatus::NotServing
                };
                self.report(status).await;
                serving = Some(now);
            }
            // While SERVING, a call that finds Redis unavailable brings the
            // next check forward, so readiness turns NOT_SERVING without
            // waiting out the interval; a short gap keeps a burst of failed
            // calls from turning into a burst of checks.
            let trouble = async {
                tokio::time::sleep_until(checked + TROUBLE_GAP).await;
                redis.trouble().await;
            };
            tokio::select! {
                () = tokio::time::sleep_until(checked + interval) => {}
                () = trouble, if serving == Some(true) => {}
                () = stop.cancelled() => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The service serves only while every component is well, and a
    /// failed check says which component failed.
    #[test]
    fn components_add_up() {
        let health = Health::new(HealthReporter::new(), Vec::new());
        assert!(!health.serving(), "nothing is well before the first check");
        assert!(health.checked(&Ok(())));
        assert!(!health.checked(&Err(Error::Unavailable("refused".into()))));
        let states = health.components();
        assert!(!states[0].1.serving && states[0].1.detail.contains("refused"));
        assert!(!states[1].1.serving);
        assert!(!health.checked(&Err(Error::internal("values_cas", "SHA differs"))));
        let states = health.components();
        assert!(states[0].1.serving && !states[1].1.serving);
        assert!(states[1].1.detail.contains("SHA differs"));
        assert!(health.checked(&Ok(())));
        health.record(Component::Draining, false, "shutting down".into());
        assert!(!health.serving());
        assert!(
            !health.checked(&Ok(())),
            "a draining service does not serve"
        );
    }
}
