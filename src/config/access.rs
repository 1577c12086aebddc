//! Access control settings: the policy file and the keys of bearer tokens.

use std::{path::PathBuf, time::Duration};

use clap::Args;

use super::{HOUR, duration_within};

/// Who may call what (docs/ACCESS.md).
#[derive(Clone, Debug, Default, Args)]
pub struct AccessSettings {
    /// Access policy (TOML): once set, every call needs an identity and a
    /// rule that grants it. Reloaded on SIGHUP and when the file changes;
    /// a broken file is refused and the policy in force stays.
    #[arg(long, env = "RMW_POLICY")]
    pub policy: Option<PathBuf>,

    /// Public keys that sign bearer tokens (JWT in `authorization`): a
    /// JWKS document or PEM keys. Needs `--jwt-issuer` and
    /// `--jwt-audience`; reloaded with the policy.
    #[arg(long, env = "RMW_JWT_KEYS", requires_all = ["jwt_issuer", "jwt_audience"])]
    pub jwt_keys: Option<PathBuf>,

    /// The `iss` a bearer token must carry.
    #[arg(long, env = "RMW_JWT_ISSUER", requires = "jwt_keys")]
    pub jwt_issuer: Option<String>,

    /// The `aud` a bearer token must carry.
    #[arg(long, env = "RMW_JWT_AUDIENCE", requires = "jwt_keys")]
    pub jwt_audience: Option<String>,

    /// How often the policy and key files are checked for a change.
    #[arg(long, env = "RMW_POLICY_CHECK_INTERVAL", default_value = "2s", value_parser = duration_within(Duration::from_millis(100), HOUR))]
    pub policy_check_interval: Duration,
}
