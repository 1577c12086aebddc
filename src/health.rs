//! Health, as Kubernetes and load balancers read it (README: "Operating
//! it").
//!
//! `""` and every registered `rmw.v1` service are SERVING only while Redis
//! answers and has every script loaded with its SHA verified; a background
//! check reloads missing scripts, so the service heals itself when Redis
//! returns; a call that finds Redis unavailable brings that check forward. `liveness` is SERVING while the process can serve at all, so a
//! Redis outage makes pods unready, not restarted. Everything turns
//! NOT_SERVING when shutdown begins.

use std::time::Duration;

use tokio::{sync::watch, time::Instant};
use tonic_health::{ServingStatus, server::HealthReporter};

use crate::{deadline::Deadline, redis::Redis};

/// The least time between two checks brought forward by failed calls.
const TROUBLE_GAP: Duration = Duration::from_millis(50);

/// The health service name of the liveness probe.
pub const LIVENESS: &str = "liveness";

/// Reports the readiness of `""` and a set of services.
#[derive(Clone)]
pub struct Readiness {
    reporter: HealthReporter,
    services: Vec<&'static str>,
}

impl Readiness {
    /// Readiness of `""` and `services` through `reporter`.
    #[must_use]
    pub fn new(reporter: HealthReporter, services: Vec<&'static str>) -> Self {
        Self { reporter, services }
    }

    /// Sets `""` and every service to `status`.
    pub async fn set(&self, status: ServingStatus) {
        self.reporter.set_service_status("", status).await;
        for service in &self.services {
            self.reporter.set_service_status(*service, status).await;
        }
    }

    /// The statuses before the first check: alive, not ready.
    pub async fn starting(&self) {
        self.set(ServingStatus::NotServing).await;
        self.reporter
            .set_service_status(LIVENESS, ServingStatus::Serving)
            .await;
    }

    /// Sets everything, `liveness` included, to NOT_SERVING: the process is
    /// going away.
    pub async fn shut_down(&self) {
        self.set(ServingStatus::NotServing).await;
        self.reporter
            .set_service_status(LIVENESS, ServingStatus::NotServing)
            .await;
    }

    /// Checks Redis and its scripts every `interval` and reports the result
    /// until `stop` turns true.
    pub async fn watch(self, redis: Redis, interval: Duration, mut stop: watch::Receiver<bool>) {
        // A check gets at least a second: a slower answer means Redis is
        // stalled, and the pods should leave the load balancer.
        let patience = interval.max(Duration::from_secs(1));
        let mut serving = None;
        while !*stop.borrow() {
            let checked = Instant::now();
            let result = redis.check_scripts(Deadline::after(patience)).await;
            let now = result.is_ok();
            if serving != Some(now) {
                match &result {
                    Ok(()) => tracing::info!("redis ready, scripts loaded: SERVING"),
                    Err(error) => tracing::warn!(%error, "redis not ready: NOT_SERVING"),
                }
                // The stop flag may have turned while Redis was checked;
                // shutdown's NOT_SERVING must not be overwritten.
                if *stop.borrow() {
                    break;
                }
                let status = if now {
                    ServingStatus::Serving
                } else {
                    ServingStatus::NotServing
                };
                self.set(status).await;
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
                _ = stop.changed() => {}
            }
        }
    }
}
