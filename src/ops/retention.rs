//! How long the movements and audit streams keep their entries: a policy
//! someone chose, never a silent default.

use std::{fmt, time::Duration};

use super::limits::MAX_SAFE_INTEGER;

/// Ten years, the longest age a retention may have (a Lua number holds its
/// milliseconds exactly, and `lua/lib/prelude.lua` checks the same bound).
const MAX_AGE: Duration = Duration::from_secs(3650 * 24 * 3600);

/// Which entries of a stream are kept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Retention {
    /// Every entry, for ever.
    #[default]
    Forever,
    /// About the newest this many (`XADD … MAXLEN ~`).
    Entries(u64),
    /// About those of the last this long, by Redis's clock (`XADD … MINID
    /// ~`).
    Age(Duration),
}

impl Retention {
    /// `forever`, a count of entries (`100000`), or an age in human units
    /// (`90d`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text == "forever" {
            return Ok(Self::Forever);
        }
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            return match text.parse::<u64>() {
                Ok(n) if (1..=MAX_SAFE_INTEGER.unsigned_abs()).contains(&n) => Ok(Self::Entries(n)),
                _ => Err("a count of entries must be from 1 to 2^53-1".into()),
            };
        }
        let age = humantime::parse_duration(text).map_err(|_| {
            "must be `forever`, a count of entries, or an age such as `90d`".to_owned()
        })?;
        if age < Duration::from_millis(1) || age > MAX_AGE {
            return Err("an age must be from 1ms to 3650d".into());
        }
        Ok(Self::Age(age))
    }
}

/// The setting as scripts read it (`rmw_retention` in
/// `lua/lib/prelude.lua`): `''`, `n:<count>` or `age:<ms>`.
impl fmt::Display for Retention {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Forever => Ok(()),
            Self::Entries(n) => write!(f, "n:{n}"),
            Self::Age(age) => write!(f, "age:{}", age.as_millis()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The three forms, their bounds, and what scripts are handed.
    #[test]
    fn forms_and_bounds() {
        assert_eq!(Retention::parse("forever"), Ok(Retention::Forever));
        assert_eq!(Retention::parse("100000"), Ok(Retention::Entries(100_000)));
        assert_eq!(
            Retention::parse("90d"),
            Ok(Retention::Age(Duration::from_secs(90 * 24 * 3600)))
        );
        for bad in [
            "",
            "0",
            "9007199254740992",
            "18446744073709551616",
            "0s",
            "3651d",
            "soon",
            "-1",
        ] {
            assert!(Retention::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Retention::Forever.to_string(), "");
        assert_eq!(Retention::Entries(5).to_string(), "n:5");
        assert_eq!(
            Retention::Age(Duration::from_secs(2)).to_string(),
            "age:2000"
        );
    }
}
