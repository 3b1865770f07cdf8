//! Which certificate LDAPS and StartTLS present: a served LDAP provider with a
//! `certificate` (a keypair from the key store) and a `tls_server_name` gets that
//! certificate for handshakes whose SNI is that name, as authentik's LDAP outpost does;
//! everything else gets gatehouse's own certificate. A keypair is turned into a rustls
//! key once and kept until its certificate changes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use uuid::Uuid;

use crate::crypto::SecretBox;
use crate::crypto::tls::certified_key_from_pem;
use crate::store::{Catalog, CatalogHandle};

pub struct LdapCertificates {
    default: Arc<CertifiedKey>,
    catalog: CatalogHandle,
    secret_box: SecretBox,
    /// keypair → (its certificate PEM when converted, the rustls key).
    converted: Mutex<HashMap<Uuid, (String, Arc<CertifiedKey>)>>,
}

impl std::fmt::Debug for LdapCertificates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LdapCertificates").finish_non_exhaustive()
    }
}

impl LdapCertificates {
    pub fn new(
        default: Arc<CertifiedKey>,
        catalog: CatalogHandle,
        secret_box: SecretBox,
    ) -> LdapCertificates {
        LdapCertificates {
            default,
            catalog,
            secret_box,
            converted: Mutex::new(HashMap::new()),
        }
    }

    /// The certificate for a handshake naming `server_name`.
    pub fn for_name(&self, server_name: Option<&str>) -> Arc<CertifiedKey> {
        let catalog = self.catalog.load();
        server_name
            .and_then(|name| keypair_for(&catalog, name))
            .and_then(|keypair| self.converted(&catalog, keypair))
            .unwrap_or_else(|| Arc::clone(&self.default))
    }

    fn converted(&self, catalog: &Catalog, id: Uuid) -> Option<Arc<CertifiedKey>> {
        let keypair = catalog.keypair(id)?;
        let mut converted = self.converted.lock().ok()?;
        if let Some((pem, key)) = converted.get(&id) {
            if *pem == keypair.certificate_pem {
                return Some(Arc::clone(key));
            }
        }
        let key_pem = self.secret_box.open(keypair.key_sealed.as_deref()?)?;
        match certified_key_from_pem(&keypair.certificate_pem, &key_pem) {
            Ok(key) => {
                converted.insert(id, (keypair.certificate_pem.clone(), Arc::clone(&key)));
                Some(key)
            }
            Err(error) => {
                tracing::warn!(keypair = %keypair.name, %error, "ldap: the provider's certificate is unusable; serving gatehouse's own");
                None
            }
        }
    }
}

/// The keypair of the served LDAP provider whose `tls_server_name` is `name`.
fn keypair_for(catalog: &Catalog, name: &str) -> Option<Uuid> {
    super::server::served_in(catalog)
        .into_iter()
        .filter_map(|provider| provider.ldap())
        .find(|ldap| {
            !ldap.tls_server_name.is_empty() && ldap.tls_server_name.eq_ignore_ascii_case(name)
        })
        .and_then(|ldap| ldap.certificate)
}

impl ResolvesServerCert for LdapCertificates {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.for_name(hello.server_name()))
    }
}
