//! Redis Cluster hash slots, computed as Redis does.

/// The number of hash slots of a Redis Cluster.
pub const SLOTS: u16 = 16384;

/// The hash tag of `key`: the text between its first `{` and the next `}`,
/// when that text is not empty. Only the tag is hashed, so keys sharing a
/// tag share a slot.
#[must_use]
pub fn hash_tag(key: &str) -> Option<&str> {
    let open = key.find('{')?;
    let len = key[open + 1..].find('}')?;
    let tag = &key[open + 1..open + 1 + len];
    (!tag.is_empty()).then_some(tag)
}

/// The part of `key` that decides its slot: its hash tag, or all of it.
#[must_use]
pub fn slot_anchor(key: &str) -> &str {
    hash_tag(key).unwrap_or(key)
}

/// The cluster slot of `key`: CRC16 (XMODEM) of its anchor, mod 16384.
#[must_use]
pub fn slot(key: &str) -> u16 {
    crc16::State::<crc16::XMODEM>::calculate(slot_anchor(key).as_bytes()) % SLOTS
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The examples of the Redis Cluster specification.
    #[test]
    fn tags_as_in_the_cluster_spec() {
        assert_eq!(hash_tag("{user1000}.following"), Some("user1000"));
        assert_eq!(hash_tag("foo{}{bar}"), None);
        assert_eq!(hash_tag("foo{{bar}}zap"), Some("{bar"));
        assert_eq!(hash_tag("foo{bar}{zap}"), Some("bar"));
        assert_eq!(hash_tag("plain"), None);
        assert_eq!(slot("{user1000}.following"), slot("{user1000}.followers"));
    }

    /// Known values of `CLUSTER KEYSLOT` (Redis 7).
    #[test]
    fn known_slots() {
        assert_eq!(slot("foo"), 12182);
        assert_eq!(slot("bar"), 5061);
        assert_eq!(slot("123456789"), 12739);
        assert_eq!(slot("{foo}bar"), 12182);
    }
}
