//! A throwaway certificate authority for TLS tests.

use std::path::PathBuf;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};

/// A CA, a server certificate for `localhost`/127.0.0.1 and a client
/// certificate, as PEM files.
pub struct Pki {
    _dir: tempfile::TempDir,
    /// The CA certificate (PEM).
    pub ca: PathBuf,
    /// The server certificate for `localhost`, signed by the CA.
    pub server_cert: PathBuf,
    /// The server key.
    pub server_key: PathBuf,
    /// A client certificate signed by the CA.
    pub client_cert: PathBuf,
    /// The client key.
    pub client_key: PathBuf,
    issuer: Issuer<'static, KeyPair>,
}

impl Pki {
    /// A fresh CA with a server and a client certificate, in a temporary folder.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "rmw test CA");
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf = |names: &[&str], usage: ExtendedKeyUsagePurpose| {
            let key = KeyPair::generate().unwrap();
            let mut params =
                CertificateParams::new(names.iter().map(|&n| n.to_owned()).collect::<Vec<_>>())
                    .unwrap();
            params.distinguished_name.push(DnType::CommonName, names[0]);
            params.extended_key_usages = vec![usage];
            let cert = params.signed_by(&key, &issuer).unwrap();
            (cert.pem(), key.serialize_pem())
        };
        let (server_pem, server_key) = leaf(
            &["localhost", "127.0.0.1"],
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        let (client_pem, client_key) =
            leaf(&["rmw-test-client"], ExtendedKeyUsagePurpose::ClientAuth);
        let write = |name: &str, pem: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, pem).unwrap();
            path
        };
        Self {
            ca: write("ca.pem", &ca.pem()),
            server_cert: write("server.pem", &server_pem),
            server_key: write("server.key", &server_key),
            client_cert: write("client.pem", &client_pem),
            client_key: write("client.key", &client_key),
            _dir: dir,
            issuer,
        }
    }

    /// A client certificate and key (PEM) the CA signed, with subject
    /// `cn` (none when empty) and the alternative names `sans`: URIs where
    /// they hold `://`, DNS names otherwise.
    pub fn client(&self, cn: &str, sans: &[&str]) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.subject_alt_names = sans
            .iter()
            .map(|&name| {
                let text = name.try_into().unwrap();
                if name.contains("://") {
                    SanType::URI(text)
                } else {
                    SanType::DnsName(text)
                }
            })
            .collect();
        params.distinguished_name = DistinguishedName::new();
        if !cn.is_empty() {
            params.distinguished_name.push(DnType::CommonName, cn);
        }
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    /// The service's flags for gRPC over mutual TLS with these files.
    pub fn mtls_args(&self) -> Vec<String> {
        vec![
            "--tls-cert".into(),
            Self::arg(&self.server_cert),
            "--tls-key".into(),
            Self::arg(&self.server_key),
            "--tls-client-ca".into(),
            Self::arg(&self.ca),
        ]
    }

    /// A path as a command-line argument.
    pub fn arg(path: &std::path::Path) -> String {
        path.display().to_string()
    }
}
