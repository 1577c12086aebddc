//! The access policy: rules that grant principals methods on resources,
//! and the limits the service declares for counters and quotas. Read from
//! a TOML file (docs/ACCESS.md); evaluated on every call.

use std::collections::HashMap;

use serde::Deserialize;

use crate::ops::types::{self, Units};

use super::{
    Kind, Refusal, Resource,
    limits::{CounterLimit, Declared, QuotaLimit},
    pattern::Pattern,
};

/// A loaded policy.
#[derive(Debug)]
pub struct Policy {
    rules: Vec<Rule>,
    /// Rules naming a principal exactly, by that name.
    exact: HashMap<String, Vec<usize>>,
    /// Rules with a principal pattern.
    patterned: Vec<usize>,
    /// The declared counter and quota limits.
    pub limits: Declared,
}

/// One grant: these principals may call these methods on these resources.
#[derive(Debug)]
struct Rule {
    principals: Vec<Pattern>,
    methods: Vec<Pattern>,
    admin: bool,
    /// Patterns by [`Kind`], in `Kind::ALL` order.
    resources: Vec<Vec<Pattern>>,
}

/// The file, as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    rule: Vec<RuleFile>,
    #[serde(default)]
    counter: Vec<CounterFile>,
    #[serde(default)]
    quota: Vec<QuotaFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    principals: Vec<String>,
    methods: Vec<String>,
    #[serde(default)]
    admin: bool,
    #[serde(default)]
    stores: Vec<String>,
    #[serde(default)]
    products: Vec<String>,
    #[serde(default)]
    books: Vec<String>,
    #[serde(default)]
    accounts: Vec<String>,
    #[serde(default)]
    values: Vec<String>,
    #[serde(default)]
    records: Vec<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    counters: Vec<String>,
    #[serde(default)]
    quotas: Vec<String>,
    #[serde(default)]
    sequences: Vec<String>,
    #[serde(default)]
    leases: Vec<String>,
}

impl RuleFile {
    /// The patterns of `kind`.
    fn of(&self, kind: Kind) -> &[String] {
        match kind {
            Kind::Store => &self.stores,
            Kind::Product => &self.products,
            Kind::Book => &self.books,
            Kind::Account => &self.accounts,
            Kind::Value => &self.values,
            Kind::Record => &self.records,
            Kind::Tag => &self.tags,
            Kind::Counter => &self.counters,
            Kind::Quota => &self.quotas,
            Kind::Sequence => &self.sequences,
            Kind::Lease => &self.leases,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CounterFile {
    name: String,
    min: Option<i64>,
    max: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QuotaFile {
    name: String,
    daily_limit: i64,
    #[serde(default)]
    utc_offset_minutes: i32,
}

/// Compiles every pattern of `texts`, naming `at` in the error.
fn patterns(texts: &[String], at: &str) -> Result<Vec<Pattern>, String> {
    texts
        .iter()
        .map(|text| Pattern::new(text).map_err(|e| format!("{at}: {e}")))
        .collect()
}

impl Policy {
    /// Parses and checks a policy file's text.
    pub fn parse(text: &str) -> Result<Self, String> {
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut policy = Self {
            rules: Vec::with_capacity(file.rule.len()),
            exact: HashMap::new(),
            patterned: Vec::new(),
            limits: Declared::default(),
        };
        for (i, rule) in file.rule.iter().enumerate() {
            let at = format!("rule[{i}]");
            if rule.principals.is_empty() || rule.methods.is_empty() {
                return Err(format!("{at}: needs principals and methods"));
            }
            let principals = patterns(&rule.principals, &format!("{at}.principals"))?;
            for principal in &principals {
                match principal.exact() {
                    Some(name) => policy.exact.entry(name.to_owned()).or_default().push(i),
                    None => policy.patterned.push(i),
                }
            }
            let resources = Kind::ALL
                .iter()
                .map(|&kind| patterns(rule.of(kind), &format!("{at}.{}", kind.plural())))
                .collect::<Result<_, _>>()?;
            policy.rules.push(Rule {
                principals,
                methods: patterns(&rule.methods, &format!("{at}.methods"))?,
                admin: rule.admin,
                resources,
            });
        }
        // A principal named by several patterns of one rule: once.
        policy.patterned.dedup();
        for (i, counter) in file.counter.iter().enumerate() {
            let at = format!("counter[{i}]");
            for bound in [counter.min, counter.max].into_iter().flatten() {
                types::signed(bound).map_err(|e| format!("{at}: {bound} {e}"))?;
            }
            if let (Some(min), Some(max)) = (counter.min, counter.max)
                && min > max
            {
                return Err(format!("{at}: min {min} is above max {max}"));
            }
            let limit = CounterLimit {
                min: counter.min,
                max: counter.max,
            };
            policy.limits.counters.push((
                Pattern::new(&counter.name).map_err(|e| format!("{at}: {e}"))?,
                limit,
            ));
        }
        for (i, quota) in file.quota.iter().enumerate() {
            let at = format!("quota[{i}]");
            let daily_limit =
                Units::parse(quota.daily_limit, 1).map_err(|e| format!("{at}: daily_limit {e}"))?;
            if quota.utc_offset_minutes.abs() > 14 * 60 {
                return Err(format!("{at}: utc_offset_minutes must be within ±840"));
            }
            let limit = QuotaLimit {
                daily_limit,
                utc_offset_minutes: quota.utc_offset_minutes,
            };
            policy.limits.quotas.push((
                Pattern::new(&quota.name).map_err(|e| format!("{at}: {e}"))?,
                limit,
            ));
        }
        Ok(policy)
    }

    /// How many rules it has.
    #[must_use]
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether it has no rule (every call is refused).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rules that let `principal` call `method` (an AdminService one
    /// when `admin`), in file order; none when it may not.
    #[must_use]
    pub fn candidates(&self, principal: &str, method: &str, admin: bool) -> Vec<usize> {
        let grants = |&i: &usize| {
            let rule = &self.rules[i];
            (!admin || rule.admin) && rule.methods.iter().any(|m| m.matches(method))
        };
        let exact = self.exact.get(principal).map_or(&[][..], Vec::as_slice);
        let mut found: Vec<usize> = exact.iter().copied().filter(grants).collect();
        let named = found.len();
        for i in self.patterned.iter().copied() {
            // A patterned rule: one of its principal patterns matches.
            if self.principal_matches(i, principal) && grants(&i) && !found[..named].contains(&i) {
                found.push(i);
            }
        }
        // File order, for which refusal is reported; rarely both kinds.
        if named > 0 && found.len() > named {
            found.sort_unstable();
        }
        found
    }

    fn principal_matches(&self, rule: usize, principal: &str) -> bool {
        self.rules[rule]
            .principals
            .iter()
            .any(|p| p.matches(principal))
    }

    /// Whether one of the `candidates` grants every resource; the first
    /// refused resource of the first candidate otherwise.
    pub fn grants(&self, candidates: &[usize], resources: &[Resource<'_>]) -> Result<(), Refusal> {
        let mut refused = None;
        for &i in candidates {
            let rule = &self.rules[i];
            let missing = resources.iter().find(|r| {
                !rule.resources[r.kind as usize]
                    .iter()
                    .any(|p| p.matches(r.name))
            });
            match missing {
                None => return Ok(()),
                Some(r) => {
                    refused.get_or_insert(Refusal::resource(r));
                }
            }
        }
        Err(refused.unwrap_or(Refusal::Method))
    }
}
