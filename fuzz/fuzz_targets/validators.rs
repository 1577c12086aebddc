//! Fuzzes the request validators with arbitrary input: none may panic, and
//! whatever they accept must keep the invariants the scripts rely on.
//!
//!   cargo +nightly fuzz run validators -- -max_total_time=60

#![no_main]

use libfuzzer_sys::fuzz_target;
use rmw::{
    ops::{
        Keyspace,
        types::{self, Id, Key},
    },
    redis::slot::slot,
};

fuzz_target!(|data: &[u8]| {
    let _ = types::is_decimal(data);
    let _ = types::value(data.to_vec());
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = types::page_token(text);
    let _ = types::text(text, 512);
    let keys = Keyspace::new("rmw").expect("a valid prefix");
    if let Ok(key) = Key::parse(text) {
        // An accepted key is printable ASCII of bounded length, and the
        // idempotency record of its value and record lands in their slot.
        assert!(key.as_str().len() <= types::MAX_KEY_BYTES);
        assert!(key.as_str().bytes().all(|b| (0x21..=0x7e).contains(&b)));
        let request = Id::parse("r").expect("a valid id");
        for data_key in [keys.value(&key), keys.record(&key)] {
            assert_eq!(slot(&keys.idempotency(&data_key, Some(&request))), slot(&data_key));
        }
    }
    if let Ok(id) = Id::parse(text) {
        // An accepted id can sit inside a hash tag: it holds no braces.
        assert!(!id.as_str().contains(['{', '}']));
        assert_eq!(slot(&keys.stock(&id)), slot(&keys.movements(&id)));
    }
});
