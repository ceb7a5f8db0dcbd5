//! TLS in front of a loopback instance: a throwaway CA and a certificate for
//! `localhost`, and a TLS-terminating proxy, so tests exercise verified
//! `https://` / `wss://` exactly as an on-premises instance with its own CA.

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};

/// A TLS front for `target`, with the CA that signed its certificate.
pub struct TlsFront {
    pub addr: SocketAddr,
    /// The CA certificate (PEM), written to a file for `extra_ca`.
    pub ca_file: PathBuf,
    _dir: tempfile::TempDir,
}

impl TlsFront {
    /// A certificate for `localhost` signed by a throwaway CA; `ca_file`
    /// holds the CA.
    pub async fn start(target: SocketAddr) -> Self {
        Self::start_with(target, false).await
    }

    /// A self-signed certificate for `localhost`, as a small on-premises
    /// instance often has; `ca_file` holds that certificate itself.
    pub async fn start_self_signed(target: SocketAddr) -> Self {
        Self::start_with(target, true).await
    }

    async fn start_with(target: SocketAddr, self_signed: bool) -> Self {
        let key = KeyPair::generate().unwrap();
        let params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        let (cert, trusted_pem) = if self_signed {
            let cert = params.self_signed(&key).unwrap();
            let pem = cert.pem();
            (cert, pem)
        } else {
            let ca_key = KeyPair::generate().unwrap();
            let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
            ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            let ca = CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
            (params.signed_by(&key, &ca).unwrap(), ca.pem())
        };

        let dir = tempfile::tempdir().unwrap();
        let ca_file = dir.path().join("on-prem-ca.pem");
        std::fs::write(&ca_file, trusted_pem).unwrap();

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(client).await else {
                        return;
                    };
                    let Ok(mut server) = TcpStream::connect(target).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut server).await;
                });
            }
        });
        Self {
            addr,
            ca_file,
            _dir: dir,
        }
    }

    /// The instance address through TLS.
    pub fn url(&self) -> String {
        format!("https://localhost:{}", self.addr.port())
    }
}
