//! One script invocation: its keys, its arguments and, for writes, its
//! idempotency record.

use std::time::Duration;

use redis::ToRedisArgs;

use super::Script;

/// A script call, built by the operation that needs it.
///
/// Writing calls carry an idempotency record as `KEYS[1]` and the request's
/// fingerprint and the record's TTL as `ARGV[1]`, `ARGV[2]`
/// (`lua/lib/prelude.lua`); the fingerprint is computed here, over the
/// script's name and every other key and argument, so two requests with the
/// same `request_id` are "the same" exactly when they would run the same
/// script on the same keys with the same arguments.
#[derive(Clone, Debug)]
pub struct Call {
    script: Script,
    idempotency: Option<Idempotency>,
    keys: Vec<String>,
    settings: Vec<Vec<u8>>,
    args: Vec<Vec<u8>>,
}

#[derive(Clone, Debug)]
struct Idempotency {
    key: String,
    /// Whether the caller sent a request id; without one the record key is
    /// declared but never read or written.
    requested: bool,
    ttl: Duration,
}

impl Call {
    /// A call that writes nothing.
    #[must_use]
    pub fn read(script: Script) -> Self {
        Self {
            script,
            idempotency: None,
            keys: Vec::new(),
            settings: Vec::new(),
            args: Vec::new(),
        }
    }

    /// A writing call whose idempotency record is `record_key`; the record
    /// is kept only when `requested` (the caller sent a request id).
    #[must_use]
    pub fn write(script: Script, record_key: String, requested: bool, ttl: Duration) -> Self {
        Self {
            idempotency: Some(Idempotency {
                key: record_key,
                requested,
                ttl,
            }),
            ..Self::read(script)
        }
    }

    /// Appends a key.
    #[must_use]
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.keys.push(key.into());
        self
    }

    /// Appends a setting of the service (a stream length, a clock skew):
    /// settings come before the arguments and, since they are not the
    /// caller's, stay out of the fingerprint, so a retry after a
    /// configuration change is still recognised.
    #[must_use]
    pub fn setting(mut self, setting: impl ToRedisArgs) -> Self {
        self.settings.extend(setting.to_redis_args());
        self
    }

    /// Appends an argument.
    #[must_use]
    pub fn arg(mut self, arg: impl ToRedisArgs) -> Self {
        self.args.extend(arg.to_redis_args());
        self
    }

    /// Whether the call writes (carries an idempotency record).
    #[must_use]
    pub fn writes(&self) -> bool {
        self.idempotency.is_some()
    }

    /// How many keys and arguments follow the idempotency positions, for
    /// the check of a binding's layout.
    #[must_use]
    pub fn counts(&self) -> (usize, usize) {
        (self.keys.len(), self.settings.len() + self.args.len())
    }

    /// The script called.
    #[must_use]
    pub fn script(&self) -> Script {
        self.script
    }

    /// Every key, the idempotency record first.
    pub fn all_keys(&self) -> impl Iterator<Item = &str> {
        self.idempotency
            .iter()
            .map(|i| i.key.as_str())
            .chain(self.keys.iter().map(String::as_str))
    }

    /// The cluster slot of the call's keys, which share one by
    /// construction (`ops::keyspace`).
    #[must_use]
    pub fn slot(&self) -> u16 {
        let mut slots = self.all_keys().map(super::slot::slot);
        let first = slots.next().unwrap_or(0);
        debug_assert!(
            slots.all(|slot| slot == first),
            "{}: keys in several slots",
            self.script.name()
        );
        first
    }

    /// The request's fingerprint: SHA1 of the script's name and every key
    /// and argument, each length-prefixed so that no two lists collide.
    fn fingerprint(&self) -> String {
        let mut hash = sha1_smol::Sha1::new();
        hash.update(self.script.name().as_bytes());
        for part in self
            .keys
            .iter()
            .map(String::as_bytes)
            .chain(self.args.iter().map(Vec::as_slice))
        {
            hash.update(&(part.len() as u64).to_le_bytes());
            hash.update(part);
        }
        hash.digest().to_string()
    }

    /// The `EVALSHA` command for this call.
    #[must_use]
    pub fn command(&self) -> redis::Cmd {
        let mut cmd = redis::cmd("EVALSHA");
        cmd.arg(self.script.sha());
        match &self.idempotency {
            None => {
                cmd.arg(self.keys.len()).arg(&self.keys);
            }
            Some(idempotency) => {
                let fingerprint = if idempotency.requested {
                    self.fingerprint()
                } else {
                    String::new()
                };
                let ttl_ms = u64::try_from(idempotency.ttl.as_millis()).unwrap_or(u64::MAX);
                cmd.arg(self.keys.len() + 1)
                    .arg(&idempotency.key)
                    .arg(&self.keys)
                    .arg(fingerprint)
                    .arg(ttl_ms.max(1));
            }
        }
        for arg in self.settings.iter().chain(&self.args) {
            cmd.arg(arg.as_slice());
        }
        cmd
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cas(key: &str, value: &[u8]) -> Call {
        Call::write(
            Script::ValuesCas,
            "idem".into(),
            true,
            Duration::from_secs(1),
        )
        .key(key)
        .arg(value)
    }

    /// Equal calls fingerprint equally; any change of key, argument or
    /// boundary between them changes the fingerprint.
    #[test]
    fn fingerprints_tell_parameters_apart() {
        assert_eq!(cas("a", b"1").fingerprint(), cas("a", b"1").fingerprint());
        assert_ne!(cas("a", b"1").fingerprint(), cas("b", b"1").fingerprint());
        assert_ne!(cas("a", b"1").fingerprint(), cas("a", b"2").fingerprint());
        assert_ne!(cas("ab", b"").fingerprint(), cas("a", b"b").fingerprint());
    }
}
