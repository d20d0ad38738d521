//! Domain registrar interface and the sandbox registrar.

use std::collections::HashSet;

use async_trait::async_trait;

use crate::ProviderError;

/// Whether a name can be registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomainAvailability {
    Available,
    Unavailable,
}

/// A domain registrar.
#[async_trait]
pub trait Registrar: Send + Sync {
    /// Ask the registry whether `domain` (normalized, lowercase) is free.
    async fn check_availability(&self, domain: &str) -> Result<DomainAvailability, ProviderError>;
}

/// The offline registrar: every name is free except a configured reserved list. Names registered through
/// the store are checked by the app against its own services, so this stays stateless.
#[derive(Debug, Clone)]
pub struct SandboxRegistrar {
    reserved: HashSet<String>,
}

impl SandboxRegistrar {
    pub fn new(reserved: impl IntoIterator<Item = String>) -> Self {
        Self {
            reserved: reserved
                .into_iter()
                .map(|d| d.to_ascii_lowercase())
                .collect(),
        }
    }
}

#[async_trait]
impl Registrar for SandboxRegistrar {
    async fn check_availability(&self, domain: &str) -> Result<DomainAvailability, ProviderError> {
        if self.reserved.contains(&domain.to_ascii_lowercase()) {
            Ok(DomainAvailability::Unavailable)
        } else {
            Ok(DomainAvailability::Available)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reserved_names_are_unavailable_and_others_free() {
        let registrar = SandboxRegistrar::new(["Google.com".to_owned()]);
        assert_eq!(
            registrar.check_availability("google.com").await.ok(),
            Some(DomainAvailability::Unavailable)
        );
        assert_eq!(
            registrar.check_availability("launchpad.com").await.ok(),
            Some(DomainAvailability::Available)
        );
    }
}
