//! Who a caller is: the subject of a bearer JWT signed by a configured
//! key, or else the identity in its client certificate (mutual TLS): the
//! SPIFFE URI SAN, then the first DNS SAN, then the subject's CN.
//!
//! Both are checked without the network: keys come from a file (JWKS or
//! PEM) read at start and on reload. A verified token or certificate is
//! remembered, so a caller pays for a signature check once, not per call.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError, Weak},
};

use jsonwebtoken::{
    Algorithm, DecodingKey, Validation,
    jwk::{AlgorithmParameters, EllipticCurve, JwkSet},
};
use serde::Deserialize;
use tonic::transport::CertificateDer;
use tonic::{
    codegen::http::{Extensions, HeaderMap},
    transport::server::{TcpConnectInfo, TlsConnectInfo},
};

use crate::error::Error;

/// How many verified tokens and certificates are remembered; past that
/// the memory starts again (an attacker sending fresh tokens only makes
/// every caller pay its own check again).
const REMEMBERED: usize = 4096;

/// A verified token: the whole of it, its subject, its expiry (seconds
/// since the epoch).
type Verified = (String, Arc<str>, u64);

/// A token's last 32 bytes, which hold its signature: the key of the
/// verified tokens, cheaper to hash than the whole token, which a hit
/// still compares in full.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Signature([u8; 32]);

impl Signature {
    fn of(token: &str) -> Self {
        let bytes = token.as_bytes();
        let tail = &bytes[bytes.len().saturating_sub(32)..];
        let mut key = [0; 32];
        key[..tail.len()].copy_from_slice(tail);
        Self(key)
    }
}

/// The keys and claims a bearer token is checked against.
pub struct Keys {
    accepted: Vec<Key>,
    issuer: String,
    audience: String,
    /// Verified tokens: their subject and expiry (seconds since the epoch).
    verified: Mutex<HashMap<Signature, Verified>>,
}

struct Key {
    id: Option<String>,
    decoding: DecodingKey,
    /// The algorithms this key may verify.
    algorithms: Vec<Algorithm>,
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    exp: u64,
}

const RSA: [Algorithm; 6] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
];

impl Keys {
    /// Keys from `text`: a JWKS document (JSON) or PEM public keys.
    pub fn parse(text: &str, issuer: &str, audience: &str) -> Result<Self, String> {
        let keys = if text.trim_start().starts_with('{') {
            jwks(text)?
        } else {
            pem(text)?
        };
        if keys.is_empty() {
            return Err("no key in the file".into());
        }
        Ok(Self {
            accepted: keys,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            verified: Mutex::default(),
        })
    }

    /// The subject of `token`, if a configured key signed it, it is for
    /// this audience from this issuer, and it has not expired.
    pub fn verify(&self, token: &str) -> Result<Arc<str>, Error> {
        let now = jsonwebtoken::get_current_timestamp();
        {
            let verified = self.verified.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some((whole, subject, exp)) = verified.get(&Signature::of(token))
                && whole == token
                && now < *exp
            {
                return Ok(Arc::clone(subject));
            }
        }
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| Error::Unauthenticated(format!("malformed bearer token: {e}")))?;
        let mut last = "no configured key verifies its algorithm".to_owned();
        for key in &self.accepted {
            if !key.algorithms.contains(&header.alg)
                || header.kid.is_some() && key.id.is_some() && header.kid != key.id
            {
                continue;
            }
            let mut validation = Validation::new(header.alg);
            validation.set_issuer(&[&self.issuer]);
            validation.set_audience(&[&self.audience]);
            validation.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
            validation.leeway = 0;
            match jsonwebtoken::decode::<Claims>(token, &key.decoding, &validation) {
                Ok(data) => {
                    let subject: Arc<str> = data.claims.sub.into();
                    let mut verified = self.verified.lock().unwrap_or_else(PoisonError::into_inner);
                    if verified.len() >= REMEMBERED {
                        verified.clear();
                    }
                    verified.insert(
                        Signature::of(token),
                        (token.to_owned(), Arc::clone(&subject), data.claims.exp),
                    );
                    return Ok(subject);
                }
                Err(e) => last = e.to_string(),
            }
        }
        Err(Error::Unauthenticated(format!(
            "bearer token refused: {last}"
        )))
    }
}

fn jwks(text: &str) -> Result<Vec<Key>, String> {
    let set: JwkSet = serde_json::from_str(text).map_err(|e| format!("bad JWKS: {e}"))?;
    set.keys
        .iter()
        .map(|jwk| {
            let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("bad JWK: {e}"))?;
            let family: Vec<Algorithm> = match &jwk.algorithm {
                AlgorithmParameters::RSA(_) => RSA.to_vec(),
                AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
                    EllipticCurve::P256 => vec![Algorithm::ES256],
                    EllipticCurve::P384 => vec![Algorithm::ES384],
                    _ => return Err(format!("unsupported curve {:?}", ec.curve)),
                },
                AlgorithmParameters::OctetKeyPair(_) => vec![Algorithm::EdDSA],
                AlgorithmParameters::OctetKey(_) => {
                    vec![Algorithm::HS256, Algorithm::HS384, Algorithm::HS512]
                }
            };
            // A key that names its algorithm verifies that one only.
            let algorithms = match jwk.common.key_algorithm {
                Some(named) => {
                    let named: Algorithm = named
                        .to_string()
                        .parse()
                        .map_err(|e| format!("bad JWK alg: {e}"))?;
                    if !family.contains(&named) {
                        return Err(format!("JWK alg {named:?} does not fit its key type"));
                    }
                    vec![named]
                }
                None => family,
            };
            Ok(Key {
                id: jwk.common.key_id.clone(),
                decoding: key,
                algorithms,
            })
        })
        .collect()
}

fn pem(text: &str) -> Result<Vec<Key>, String> {
    let mut keys = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let block = &rest[start..];
        let Some(end) = block.find("-----END ") else {
            return Err("unterminated PEM block".into());
        };
        let end = end + block[end..].find('\n').unwrap_or(block.len() - end);
        let pem = &block[..end.min(block.len())];
        let bytes = pem.as_bytes();
        let key = if let Ok(key) = DecodingKey::from_rsa_pem(bytes) {
            Key {
                id: None,
                decoding: key,
                algorithms: RSA.to_vec(),
            }
        } else if let Ok(key) = DecodingKey::from_ec_pem(bytes) {
            Key {
                id: None,
                decoding: key,
                algorithms: vec![Algorithm::ES256, Algorithm::ES384],
            }
        } else if let Ok(key) = DecodingKey::from_ed_pem(bytes) {
            Key {
                id: None,
                decoding: key,
                algorithms: vec![Algorithm::EdDSA],
            }
        } else {
            return Err("a PEM block is not an RSA, EC or Ed25519 public key".into());
        };
        keys.push(key);
        rest = &block[end.min(block.len())..];
    }
    Ok(keys)
}

/// A connection's client certificate chain, as tonic keeps it.
type Chain = Vec<CertificateDer<'static>>;

/// A chain seen before, and whom it names.
type Seen = (Weak<Chain>, Arc<str>);

/// The identities of client certificates, remembered per connection.
#[derive(Default)]
pub struct Certificates {
    /// By the address of the connection's certificate list, with a weak
    /// reference that keeps the address from being reused while listed.
    seen: Mutex<HashMap<usize, Seen>>,
}

impl Certificates {
    /// The identity of the client certificate of the request's
    /// connection, if it presented one.
    pub fn principal(&self, extensions: &Extensions) -> Result<Option<Arc<str>>, Error> {
        let Some(certs) = extensions
            .get::<TlsConnectInfo<TcpConnectInfo>>()
            .and_then(TlsConnectInfo::peer_certs)
        else {
            return Ok(None);
        };
        let address = Arc::as_ptr(&certs) as usize;
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((weak, principal)) = seen.get(&address)
            && weak
                .upgrade()
                .is_some_and(|live| Arc::ptr_eq(&live, &certs))
        {
            return Ok(Some(Arc::clone(principal)));
        }
        let Some(leaf) = certs.first() else {
            return Ok(None);
        };
        let principal: Arc<str> = certificate_identity(leaf)?.into();
        if seen.len() >= REMEMBERED {
            seen.retain(|_, (weak, _)| weak.strong_count() > 0);
            if seen.len() >= REMEMBERED {
                seen.clear();
            }
        }
        seen.insert(address, (Arc::downgrade(&certs), Arc::clone(&principal)));
        Ok(Some(principal))
    }
}

/// SPIFFE URI SAN, else the first DNS SAN, else the subject's CN.
fn certificate_identity(der: &[u8]) -> Result<String, Error> {
    use x509_parser::{certificate::X509Certificate, extensions::GeneralName, prelude::FromDer};
    let unreadable =
        |e: String| Error::Unauthenticated(format!("unreadable client certificate: {e}"));
    let (_, cert) = X509Certificate::from_der(der).map_err(|e| unreadable(e.to_string()))?;
    let names = cert
        .subject_alternative_name()
        .map_err(|e| unreadable(e.to_string()))?
        .map(|san| san.value.general_names.clone())
        .unwrap_or_default();
    let spiffe = names.iter().find_map(|name| match name {
        GeneralName::URI(uri) if uri.starts_with("spiffe://") => Some((*uri).to_owned()),
        _ => None,
    });
    let dns = || {
        names.iter().find_map(|name| match name {
            GeneralName::DNSName(dns) => Some((*dns).to_owned()),
            _ => None,
        })
    };
    let cn = || {
        cert.subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map(str::to_owned)
    };
    spiffe
        .or_else(dns)
        .or_else(cn)
        .ok_or_else(|| Error::Unauthenticated("the client certificate names no identity".into()))
}

/// The token of an `authorization: Bearer …` header, if there is one.
pub fn bearer(headers: &HeaderMap) -> Result<Option<&str>, Error> {
    let Some(value) = headers.get("authorization") else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| Error::Unauthenticated("authorization is not text".into()))?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => Ok(Some(token.trim())),
        _ => Err(Error::Unauthenticated(
            "authorization must be `Bearer <token>`".into(),
        )),
    }
}
