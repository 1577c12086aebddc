//! The access settings in force, reloaded whole on SIGHUP or when a file
//! changes; and the check of each call as it arrives.

use std::{path::Path, sync::Arc};

use arc_swap::ArcSwap;
use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family},
    registry::Registry,
};
use tokio_util::sync::CancellationToken;
use tonic::codegen::http::{Extensions, HeaderMap};

use super::{
    Caller, Grant, Refusal,
    identity::{self, Certificates, Keys},
    policy::Policy,
};
use crate::{config::AccessSettings, error::Error};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeniedLabels {
    method: &'static str,
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReloadLabels {
    result: &'static str,
}

/// The access settings in force and their counters.
pub struct Access {
    settings: AccessSettings,
    current: ArcSwap<Loaded>,
    certificates: Certificates,
    denied: Family<DeniedLabels, Counter>,
    reloads: Family<ReloadLabels, Counter>,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access").finish_non_exhaustive()
    }
}

/// One reading of the files: what it says, and the text it was read from
/// (a reload that finds the same text changes nothing).
#[derive(Default)]
struct Loaded {
    policy: Option<Arc<Policy>>,
    keys: Option<Arc<Keys>>,
    texts: (Option<String>, Option<String>),
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

impl Access {
    /// Reads the configured files: a missing or broken one fails start.
    pub fn load(settings: &AccessSettings) -> anyhow::Result<Arc<Self>> {
        let access = Self {
            settings: settings.clone(),
            current: ArcSwap::from_pointee(Loaded::default()),
            certificates: Certificates::default(),
            denied: Family::default(),
            reloads: Family::default(),
        };
        access.reload().map_err(anyhow::Error::msg)?;
        if let Some(policy) = &access.current.load().policy {
            tracing::info!(rules = policy.len(), "access policy in force");
        } else {
            tracing::warn!(
                "no --policy: every caller that reaches the port may call every method on every resource"
            );
        }
        Ok(Arc::new(access))
    }

    /// Rereads the files; swaps what they say in whole if they changed
    /// and are valid. Returns whether anything changed.
    pub fn reload(&self) -> Result<bool, String> {
        let settings = &self.settings;
        let policy_text = settings.policy.as_deref().map(read).transpose()?;
        let keys_text = settings.jwt_keys.as_deref().map(read).transpose()?;
        let current = self.current.load();
        // The same text as in force (no files at all, too: nothing loaded,
        // which the empty default already says).
        if current.texts.0 == policy_text && current.texts.1 == keys_text {
            return Ok(false);
        }
        let policy = policy_text
            .as_deref()
            .map(|text| Policy::parse(text).map(Arc::new))
            .transpose()
            .map_err(|e| format!("policy {}: {e}", display(settings.policy.as_deref())))?;
        let keys = match (&keys_text, &settings.jwt_issuer, &settings.jwt_audience) {
            (Some(text), Some(issuer), Some(audience)) => {
                Some(Arc::new(Keys::parse(text, issuer, audience).map_err(
                    |e| format!("jwt keys {}: {e}", display(settings.jwt_keys.as_deref())),
                )?))
            }
            _ => None,
        };
        self.current.store(Arc::new(Loaded {
            policy,
            keys,
            texts: (policy_text, keys_text),
        }));
        Ok(true)
    }

    /// Reloads on SIGHUP and whenever a file's text changes (checked every
    /// `--policy-check-interval`), until `stopping`. A failed reload is
    /// logged and counted; the settings in force stay.
    pub async fn watch(self: Arc<Self>, stopping: CancellationToken) -> anyhow::Result<()> {
        if self.settings.policy.is_none() && self.settings.jwt_keys.is_none() {
            return Ok(());
        }
        let mut hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
        let mut tick = tokio::time::interval(self.settings.policy_check_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let asked = tokio::select! {
                () = stopping.cancelled() => return Ok(()),
                _ = hangups.recv() => true,
                _ = tick.tick() => false,
            };
            self.reload_logged(asked);
        }
    }

    fn reload_logged(&self, asked: bool) {
        let result = match self.reload() {
            Ok(true) => {
                let rules = self.current.load().policy.as_ref().map_or(0, |p| p.len());
                tracing::info!(rules, "access settings reloaded");
                "reloaded"
            }
            Ok(false) if asked => {
                tracing::info!("access settings unchanged");
                "unchanged"
            }
            Ok(false) => return,
            Err(error) => {
                tracing::error!(%error, "access settings refused; the ones in force stay");
                "refused"
            }
        };
        self.reloads.get_or_create(&ReloadLabels { result }).inc();
    }

    /// Registers `rmw_rpc_denied_total` and `rmw_policy_reloads_total`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "rpc_denied",
            "Calls refused by the access policy, by method and the kind refused",
            self.denied.clone(),
        );
        registry.register(
            "policy_reloads",
            "Reloads of the access settings, by result (reloaded, unchanged, refused)",
            self.reloads.clone(),
        );
    }

    /// Who is calling `method`, and whether the policy lets it: `None`
    /// when the service is open and the caller showed no identity.
    pub fn admit_call(
        self: &Arc<Self>,
        method: &'static str,
        headers: &HeaderMap,
        extensions: &Extensions,
    ) -> Result<Option<Caller>, Error> {
        let loaded = self.current.load();
        // An open service without keys has no use for `authorization`: it
        // may be meant for someone else (a proxy's Basic credentials).
        let token = if loaded.keys.is_some() || loaded.policy.is_some() {
            identity::bearer(headers)?
        } else {
            None
        };
        let principal = match (token, &loaded.keys) {
            (Some(token), Some(keys)) => Some(keys.verify(token)?),
            (Some(_), None) if loaded.policy.is_some() => {
                return Err(Error::Unauthenticated(
                    "bearer tokens are not accepted here (no --jwt-keys)".into(),
                ));
            }
            _ => self.certificates.principal(extensions)?,
        };
        let Some(policy) = &loaded.policy else {
            return Ok(principal.map(|principal| Caller {
                principal,
                method,
                grant: None,
            }));
        };
        let Some(principal) = principal else {
            return Err(Error::Unauthenticated(
                "present a client certificate or a bearer token".into(),
            ));
        };
        let admin = method.starts_with("AdminService/");
        let candidates = policy.candidates(&principal, method, admin);
        if candidates.is_empty() {
            return Err(self.deny(method, &principal, &Refusal::Method));
        }
        Ok(Some(Caller {
            principal,
            method,
            grant: Some(Grant {
                policy: Arc::clone(policy),
                candidates,
                access: Arc::clone(self),
            }),
        }))
    }

    /// Logs and counts a refusal; the error that answers it.
    pub(super) fn deny(&self, method: &'static str, principal: &str, refusal: &Refusal) -> Error {
        let kind = refusal.kind();
        self.denied
            .get_or_create(&DeniedLabels { method, kind })
            .inc();
        let name = match refusal {
            Refusal::Method => method.to_owned(),
            Refusal::Resource { name, .. } => name.clone(),
        };
        tracing::info!(target: "rmw::access", principal, method, kind, name, "call denied");
        Error::PermissionDenied { kind, name }
    }
}

fn display(path: Option<&Path>) -> String {
    path.map(|p| p.display().to_string()).unwrap_or_default()
}
