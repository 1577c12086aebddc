//! Prometheus metrics of the Redis layer: the pool, failed calls, the
//! cluster's resends and the scripts on each node, read at each scrape.
//! Telemetry registers the collector and knows nothing of what it reads.

use std::fmt;

use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric},
    metrics::{counter::ConstCounter, gauge::ConstGauge},
};

use super::{Backend, PoolStatistics, Redis, Script};

impl Redis {
    /// What Prometheus reads of Redis, for the metrics registry.
    #[must_use]
    pub fn collector(&self) -> Box<dyn Collector> {
        Box::new(RedisCollector {
            redis: self.clone(),
        })
    }

    /// The pool's connections and checkouts.
    fn pool_statistics(&self) -> PoolStatistics {
        match &self.inner.backend {
            Backend::Standalone { pool, .. } => pool.statistics(),
            Backend::Cluster(cluster) => cluster.statistics(),
        }
    }

    /// Calls the cluster did not run and that were sent again, by reason;
    /// empty standalone.
    fn cluster_resends(&self) -> Vec<(&'static str, u64)> {
        match &self.inner.backend {
            Backend::Standalone { .. } => Vec::new(),
            Backend::Cluster(cluster) => cluster.resends(),
        }
    }

    /// Failed calls so far, by kind.
    fn error_counts(&self) -> [(&'static str, u64); 4] {
        self.inner.errors.counts()
    }
}

/// Reads the Redis handle's pool and scripts at each scrape.
#[derive(Debug)]
struct RedisCollector {
    redis: Redis,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ScriptLabels {
    script: &'static str,
    node: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

impl Collector for RedisCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        self.encode_pool(&mut encoder)?;
        self.encode_calls(&mut encoder)?;
        self.encode_scripts(&mut encoder)
    }
}

impl RedisCollector {
    fn encode_pool(&self, encoder: &mut DescriptorEncoder) -> Result<(), fmt::Error> {
        let pool = self.redis.pool_statistics();
        let gauge = ConstGauge::new(0_i64);
        let mut family = encoder.encode_descriptor(
            "redis_pool_connections",
            "Redis connections of the pool, open and idle",
            None,
            gauge.metric_type(),
        )?;
        for (state, n) in [("open", pool.open), ("idle", pool.idle)] {
            ConstGauge::new(i64::from(n)).encode(family.encode_family(&StateLabels { state })?)?;
        }
        for (name, help, value) in [
            (
                "redis_pool_waited",
                "Pool checkouts that had to wait for a connection",
                pool.waited,
            ),
            (
                "redis_pool_timed_out",
                "Pool checkouts that gave up waiting",
                pool.timed_out,
            ),
            (
                "redis_connections_created",
                "Redis connections made",
                pool.created,
            ),
            (
                "redis_connections_broken",
                "Redis connections dropped after failing",
                pool.broken,
            ),
        ] {
            let counter = ConstCounter::new(value);
            counter.encode(encoder.encode_descriptor(
                name,
                help,
                None,
                counter.metric_type(),
            )?)?;
        }
        let wait = ConstCounter::new(pool.wait_time.as_secs_f64());
        wait.encode(encoder.encode_descriptor(
            "redis_pool_wait_seconds",
            "Time spent waiting for a pooled connection",
            None,
            wait.metric_type(),
        )?)
    }

    fn encode_calls(&self, encoder: &mut DescriptorEncoder) -> Result<(), fmt::Error> {
        let errors = self.redis.error_counts();
        let mut family = encoder.encode_descriptor(
            "redis_errors",
            "Failed Redis calls, by how the service read them",
            None,
            ConstCounter::new(0_u64).metric_type(),
        )?;
        for (kind, n) in errors {
            ConstCounter::new(n).encode(family.encode_family(&KindLabels { kind })?)?;
        }

        let resends = self.redis.cluster_resends();
        if !resends.is_empty() {
            let mut family = encoder.encode_descriptor(
                "redis_cluster_resends",
                "Script calls the Redis Cluster did not run and that were sent again, by reason",
                None,
                ConstCounter::new(0_u64).metric_type(),
            )?;
            for (reason, n) in resends {
                ConstCounter::new(n).encode(family.encode_family(&ReasonLabels { reason })?)?;
            }
        }
        Ok(())
    }

    fn encode_scripts(&self, encoder: &mut DescriptorEncoder) -> Result<(), fmt::Error> {
        let states = self.redis.script_states().snapshot();
        let mut reloads = encoder.encode_descriptor(
            "script_reloads",
            "Script loads after the first, by script and Redis node (NOSCRIPT, restarts, SCRIPT FLUSH)",
            None,
            ConstCounter::new(0_u64).metric_type(),
        )?;
        for (node, scripts) in &states {
            for (script, state) in Script::ALL.iter().zip(scripts) {
                let labels = ScriptLabels {
                    script: script.name(),
                    node: node.clone(),
                };
                ConstCounter::new(state.reloads).encode(reloads.encode_family(&labels)?)?;
            }
        }
        let mut loaded = encoder.encode_descriptor(
            "script_loaded",
            "Whether the script was loaded on the node at the last check (1) or not (0)",
            None,
            ConstGauge::new(0_i64).metric_type(),
        )?;
        for (node, scripts) in &states {
            for (script, state) in Script::ALL.iter().zip(scripts) {
                let labels = ScriptLabels {
                    script: script.name(),
                    node: node.clone(),
                };
                ConstGauge::new(i64::from(state.loaded)).encode(loaded.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }
}
