//! Name patterns of the access policy: `*` is any run of characters
//! (none included), `\` makes the next character literal; everything else
//! matches itself. A name is never read as a pattern, so a name holding
//! `*`, `{`, `}` or `:` matches only patterns that spell those characters.

use std::fmt;

/// A compiled pattern: its literal runs between stars.
#[derive(Clone, PartialEq, Eq)]
pub struct Pattern {
    text: String,
    /// The run before the first star (the whole name when there is none).
    prefix: String,
    /// The runs between stars, empty ones left out.
    middle: Vec<String>,
    /// The run after the last star; `None` without a star.
    suffix: Option<String>,
}

impl Pattern {
    /// Compiles `text`; a trailing lone `\` is refused.
    pub fn new(text: &str) -> Result<Self, String> {
        let mut runs = vec![String::new()];
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            match c {
                '*' => runs.push(String::new()),
                '\\' => {
                    let literal = chars
                        .next()
                        .ok_or_else(|| format!("{text:?} ends with a lone \\"))?;
                    runs.last_mut().expect("one run").push(literal);
                }
                c => runs.last_mut().expect("one run").push(c),
            }
        }
        let prefix = runs.remove(0);
        let suffix = runs.pop();
        Ok(Self {
            text: text.to_owned(),
            prefix,
            middle: runs.into_iter().filter(|run| !run.is_empty()).collect(),
            suffix,
        })
    }

    /// Whether `name` matches.
    #[must_use]
    pub fn matches(&self, name: &str) -> bool {
        let Some(suffix) = &self.suffix else {
            return name == self.prefix;
        };
        let Some(rest) = name.strip_prefix(self.prefix.as_str()) else {
            return false;
        };
        let Some(mut between) = rest.strip_suffix(suffix.as_str()) else {
            return false;
        };
        // Each middle run found leftmost in what is left: the leftmost
        // match never rules out a later run.
        for run in &self.middle {
            let Some(at) = between.find(run.as_str()) else {
                return false;
            };
            between = &between[at + run.len()..];
        }
        true
    }

    /// The name itself, for a pattern without stars.
    #[must_use]
    pub fn exact(&self) -> Option<&str> {
        self.suffix.is_none().then_some(self.prefix.as_str())
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.text)
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::Pattern;

    /// The reference: the pattern as an anchored regular expression, each
    /// literal character escaped.
    fn reference(pattern: &str) -> regex::Regex {
        let mut re = String::from("^");
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            match c {
                '*' => re.push_str("(?s:.*)"),
                '\\' => re.push_str(&regex::escape(&chars.next().unwrap().to_string())),
                c => re.push_str(&regex::escape(&c.to_string())),
            }
        }
        re.push('$');
        regex::Regex::new(&re).unwrap()
    }

    /// Characters that matter: the pattern syntax, key syntax, and
    /// multi-byte unicode.
    fn alphabet() -> impl Strategy<Value = char> {
        prop::sample::select(vec![
            'a', 'b', '*', '{', '}', ':', '\\', 'é', '💶', '.', ' ',
        ])
    }

    fn text(max: usize) -> impl Strategy<Value = String> {
        prop::collection::vec(alphabet(), 0..max).prop_map(|chars| chars.into_iter().collect())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        /// Any pattern against any name: the same answer as the reference.
        #[test]
        fn agrees_with_the_reference(pattern in text(8), name in text(10)) {
            if let Ok(compiled) = Pattern::new(&pattern) {
                prop_assert_eq!(compiled.matches(&name), reference(&pattern).is_match(&name),
                    "pattern {:?} name {:?}", pattern, name);
            } else {
                prop_assert!(pattern.ends_with('\\'));
            }
        }

        /// A name made from a pattern by filling its stars matches it.
        #[test]
        fn filled_stars_match(runs in prop::collection::vec(text(4), 1..4),
                              fills in prop::collection::vec(text(4), 3)) {
            let escape = |run: &str| run.replace('\\', "\\\\").replace('*', "\\*");
            let pattern = runs.iter().map(|r| escape(r)).collect::<Vec<_>>().join("*");
            let mut name = String::new();
            for (i, run) in runs.iter().enumerate() {
                if i > 0 {
                    name.push_str(&fills[i - 1]);
                }
                name.push_str(run);
            }
            prop_assert!(Pattern::new(&pattern).unwrap().matches(&name), "{:?} {:?}", pattern, name);
        }
    }

    /// A name's own special characters are literal: they match only
    /// patterns that spell them.
    #[test]
    fn names_cannot_escape_their_pattern() {
        let p = Pattern::new("orders:{eu}:*").unwrap();
        assert!(p.matches("orders:{eu}:1"));
        assert!(p.matches("orders:{eu}:"));
        assert!(!p.matches("orders:{us}:1"));
        assert!(!p.matches("orders:*"));
        let star = Pattern::new(r"a\*").unwrap();
        assert!(star.matches("a*"));
        assert!(!star.matches("ab"));
        assert_eq!(Pattern::new("plain").unwrap().exact(), Some("plain"));
        assert_eq!(Pattern::new("*").unwrap().exact(), None);
        assert!(Pattern::new("*").unwrap().matches(""));
        assert!(Pattern::new("é*💶").unwrap().matches("é-💶"));
        assert!(Pattern::new(r"bad\").is_err());
    }
}
