//! The fields of the movements, audit and record change streams, by code: one table,
//! read here by the service and handed to every script as the Lua table
//! `F` (`F.kind` is `'k'`), so that writer and reader cannot disagree.

macro_rules! fields {
    ($($(#[$doc:meta])* $name:ident, $lua:ident = $code:literal;)*) => {
        $($(#[$doc])* pub const $name: &str = $code;)*

        /// The table as Lua, inserted into every script after the prelude.
        pub(crate) const LUA: &str = concat!(
            "local F = {",
            $(stringify!($lua), " = '", $code, "', ",)*
            "}"
        );
    };
}

fields! {
    /// What made the entry (`set`, `restock`, `deduct`, `cancel`, `hold`,
    /// `commit`, `release`, `expire`;
    /// `credit`, `debit`, `transfer`, `hold`, `post`, `void`, `expire`;
    /// `put`, `delete`).
    KIND, kind = "k";
    /// A per-product or per-account stream's copy: the entry's id in the
    /// main stream.
    ID, id = "id";
    /// Movements: the product.
    PRODUCT, product = "p";
    /// Movements: the signed change of the level.
    DELTA, delta = "d";
    /// Movements: the level before.
    BEFORE, before = "b";
    /// Movements: the level after.
    AFTER, after = "a";
    /// Movements: the order ('' for none); for holds, the hold's id.
    ORDER, order = "o";
    /// Movements: the signed change of the units held (absent before holds).
    HELD_DELTA, held_delta = "hd";
    /// Movements: the units held after (absent before holds).
    HELD, held = "h";
    /// Entries: the account money left ('' for credits).
    FROM, from = "f";
    /// Entries: the account money reached ('' for debits).
    TO, to = "t";
    /// Entries: minor units moved.
    AMOUNT, amount = "m";
    /// Entries: the source's balance before.
    FROM_BEFORE, from_before = "fb";
    /// Entries: the source's balance after.
    FROM_AFTER, from_after = "fa";
    /// Entries: the target's balance before.
    TO_BEFORE, to_before = "tb";
    /// Entries: the target's balance after.
    TO_AFTER, to_after = "ta";
    /// Entries: the caller's reference.
    REFERENCE, reference = "r";
    /// Entries: the caller's description.
    DESCRIPTION, description = "s";
    /// Entries: the request id ('' for none).
    REQUEST_ID, request_id = "q";
    /// Record changes: the record's key.
    KEY, key = "key";
    /// Record changes: the version written or deleted.
    VERSION, version = "ver";
    /// Record changes: the value written (absent for a delete).
    VALUE, value = "val";
    /// The caller's principal (movements and ledger entries), when the
    /// call carried one.
    BY, by = "by";
}

/// Every code, for the check that scripts write none by hand.
#[cfg(test)]
const CODES: &[&str] = &[
    KIND,
    ID,
    PRODUCT,
    DELTA,
    BEFORE,
    AFTER,
    ORDER,
    HELD_DELTA,
    HELD,
    FROM,
    TO,
    AMOUNT,
    FROM_BEFORE,
    FROM_AFTER,
    TO_BEFORE,
    TO_AFTER,
    REFERENCE,
    DESCRIPTION,
    REQUEST_ID,
    KEY,
    VERSION,
    VALUE,
    BY,
];

#[cfg(test)]
mod tests {
    use crate::redis::Script;

    /// No script spells a field code out: each writes `F.<name>`, so the
    /// table above is the only place a code lives. A statement that adds
    /// to a stream (`rmw_xadd(KEYS[…]`, `rmw_xadd(s.…` in `lib/holds.lua`,
    /// or the `fields` list a ledger
    /// script builds for it) holds no quoted code.
    #[test]
    fn scripts_write_codes_from_the_table() {
        let mut statements = 0;
        for script in Script::ALL {
            let source = script.source();
            for statement in source
                .split("rmw_xadd(")
                .chain(source.split("local fields = {"))
            {
                let statement = statement.split("\n\n").next().unwrap_or("");
                let adds = statement.starts_with("KEYS[")
                    || statement.starts_with("s.")
                    || statement.contains("unpack(fields)")
                    || statement.trim_start().starts_with("F.kind");
                if !adds {
                    continue;
                }
                statements += 1;
                for code in super::CODES {
                    let quoted = format!("'{code}',");
                    assert!(
                        !statement.contains(&quoted),
                        "{}: {quoted} in {statement:?}",
                        script.name()
                    );
                }
            }
        }
        // Two streams per movement, two or three per ledger entry, in six
        // scripts: the check saw them.
        assert!(statements >= 12, "{statements} statements checked");
    }

    /// The Lua table names every code once.
    #[test]
    fn lua_table() {
        assert!(super::LUA.starts_with("local F = {kind = 'k', id = 'id', "));
        assert!(super::LUA.ends_with("by = 'by', }"));
        for code in super::CODES {
            assert_eq!(
                super::LUA.matches(&format!(" = '{code}',")).count(),
                1,
                "{code}"
            );
        }
    }
}
