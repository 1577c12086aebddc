//! The slot map: which primary serves which slots, as `CLUSTER SLOTS` last
//! said.

use std::sync::PoisonError;

use redis::{RedisError, RedisResult, Value, cluster_async::ClusterConnection};

use super::ClusterPool;
use crate::redis::link::{Link, Target};

/// A slot range and the primary serving it (`host:port`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotRange {
    /// First slot.
    pub start: u16,
    /// Last slot, included.
    pub end: u16,
    /// The primary.
    pub node: String,
}

impl ClusterPool {
    /// The primary serving `slot`, as last seen.
    pub fn node_of(&self, slot: u16) -> Option<String> {
        let slots = self.slots.read().unwrap_or_else(PoisonError::into_inner);
        slots
            .iter()
            .find(|r| (r.start..=r.end).contains(&slot))
            .map(|r| r.node.clone())
    }

    /// Reads the slot map from the cluster; returns its primaries, sorted.
    pub async fn refresh(&self, conn: &mut ClusterConnection) -> RedisResult<Vec<String>> {
        // Asked of a primary, not of a random node: a random one may be a
        // node that died and is no longer part of the cluster.
        let reply = conn
            .send(Target::Slot(0), &redis::cmd("CLUSTER").arg("SLOTS").clone())
            .await?;
        let ranges = parse_slots(&reply).ok_or_else(|| {
            RedisError::from((redis::ErrorKind::Parse, "unexpected CLUSTER SLOTS reply"))
        })?;
        let mut primaries: Vec<String> = ranges.iter().map(|r| r.node.clone()).collect();
        primaries.sort();
        primaries.dedup();
        *self.slots.write().unwrap_or_else(PoisonError::into_inner) = ranges;
        Ok(primaries)
    }
}

/// `CLUSTER SLOTS`: `[[start, end, [host, port, id, …], replicas…], …]`.
fn parse_slots(reply: &Value) -> Option<Vec<SlotRange>> {
    let Value::Array(entries) = reply else {
        return None;
    };
    entries
        .iter()
        .map(|entry| {
            let Value::Array(fields) = entry else {
                return None;
            };
            let int = |v: &Value| match v {
                Value::Int(n) => u16::try_from(*n).ok(),
                _ => None,
            };
            let Value::Array(primary) = fields.get(2)? else {
                return None;
            };
            let host = match primary.first()? {
                Value::BulkString(host) => String::from_utf8(host.clone()).ok()?,
                _ => return None,
            };
            let port = int(primary.get(1)?)?;
            Some(SlotRange {
                start: int(fields.first()?)?,
                end: int(fields.get(1)?)?,
                node: format!("{host}:{port}"),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reply shape of Redis 7's CLUSTER SLOTS.
    #[test]
    fn parses_cluster_slots() {
        let node = |port| {
            Value::Array(vec![
                Value::BulkString(b"127.0.0.1".to_vec()),
                Value::Int(port),
                Value::BulkString(b"id".to_vec()),
                Value::Array(vec![]),
            ])
        };
        let reply = Value::Array(vec![
            Value::Array(vec![
                Value::Int(0),
                Value::Int(5460),
                node(7000),
                node(7003),
            ]),
            Value::Array(vec![Value::Int(5461), Value::Int(16383), node(7001)]),
        ]);
        assert_eq!(
            parse_slots(&reply).unwrap(),
            vec![
                SlotRange {
                    start: 0,
                    end: 5460,
                    node: "127.0.0.1:7000".into()
                },
                SlotRange {
                    start: 5461,
                    end: 16383,
                    node: "127.0.0.1:7001".into()
                },
            ]
        );
        assert_eq!(parse_slots(&Value::Nil), None);
    }
}
