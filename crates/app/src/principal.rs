//! Who is acting: an agent (through one of its keys) or the account (through a token or a session).

/// An authenticated actor. Every lookup in the app layer is scoped by it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Agent {
        account_id: String,
        agent_id: String,
        key_id: String,
    },
    Account {
        account_id: String,
        credential_id: String,
    },
}

impl Principal {
    pub fn account_id(&self) -> &str {
        match self {
            Self::Agent { account_id, .. } | Self::Account { account_id, .. } => account_id,
        }
    }

    /// The agent, when an agent is acting.
    pub fn agent_id(&self) -> Option<&str> {
        match self {
            Self::Agent { agent_id, .. } => Some(agent_id),
            Self::Account { .. } => None,
        }
    }

    /// The credential (key, token or session id) that authenticated the request; safe to log.
    pub fn credential_id(&self) -> &str {
        match self {
            Self::Agent { key_id, .. } => key_id,
            Self::Account { credential_id, .. } => credential_id,
        }
    }

    /// The key used for rate limiting.
    pub fn rate_limit_key(&self) -> &str {
        self.credential_id()
    }
}
