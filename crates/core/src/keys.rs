//! Credential format and hashing.
//!
//! A credential is `<prefix><keyId>.<secret>`: `ask_live_` (agent API key), `acct_live_` (account token) or
//! `ark_live_` (router key), a typed key id, and a secret of 32 random bytes in unpadded base64url (256
//! bits). Only an HMAC-SHA256 of the secret under the server secret (a pepper) is stored; verification
//! compares in constant time. Key ids are not secret: logs and audit events carry them.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::ids::{IdKind, is_valid_id, new_id};

/// Length of the encoded secret (32 bytes in unpadded base64url).
const SECRET_LEN: usize = 43;

/// The kinds of bearer credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKind {
    AgentKey,
    AccountToken,
    RouterKey,
}

impl CredentialKind {
    pub const fn prefix(self) -> &'static str {
        match self {
            Self::AgentKey => "ask_live_",
            Self::AccountToken => "acct_live_",
            Self::RouterKey => "ark_live_",
        }
    }

    const fn id_kind(self) -> IdKind {
        match self {
            Self::AgentKey | Self::AccountToken => IdKind::Key,
            Self::RouterKey => IdKind::RouterKey,
        }
    }
}

/// A freshly minted credential: the plaintext (shown once) and the hash to store.
#[derive(Clone)]
pub struct MintedCredential {
    pub key_id: String,
    pub plaintext: String,
    pub secret_hash: String,
}

impl std::fmt::Debug for MintedCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MintedCredential")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// A credential split into its parts; the secret is still plaintext and must only be hashed.
#[derive(Clone, PartialEq, Eq)]
pub struct ParsedCredential {
    pub kind: CredentialKind,
    pub key_id: String,
    secret: String,
}

impl std::fmt::Debug for ParsedCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParsedCredential")
            .field("kind", &self.kind)
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// The server secret used to hash credential secrets.
#[derive(Clone)]
pub struct Pepper(Vec<u8>);

impl std::fmt::Debug for Pepper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pepper(..)")
    }
}

impl Pepper {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    /// HMAC-SHA256 of `secret`, hex encoded.
    pub fn hash(&self, secret: &str) -> String {
        // HMAC accepts keys of any length, so this cannot fail.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.0) else {
            return String::new();
        };
        mac.update(secret.as_bytes());
        let bytes = mac.finalize().into_bytes();
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Mint a new credential of `kind`.
    pub fn mint(&self, kind: CredentialKind) -> MintedCredential {
        let key_id = new_id(kind.id_kind());
        let secret = random_secret();
        let secret_hash = self.hash(&secret);
        MintedCredential {
            plaintext: format!("{}{key_id}.{secret}", kind.prefix()),
            key_id,
            secret_hash,
        }
    }

    /// Whether `credential`'s secret matches the stored hash, in constant time.
    pub fn verify(&self, credential: &ParsedCredential, stored_hash: &str) -> bool {
        let computed = self.hash(&credential.secret);
        computed.as_bytes().ct_eq(stored_hash.as_bytes()).into()
    }
}

/// 32 random bytes from the OS generator, base64url without padding.
pub fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Parse a bearer credential. `None` for anything malformed; callers answer 401 without saying why.
pub fn parse_credential(text: &str) -> Option<ParsedCredential> {
    let kind = [
        CredentialKind::AgentKey,
        CredentialKind::AccountToken,
        CredentialKind::RouterKey,
    ]
    .into_iter()
    .find(|k| text.starts_with(k.prefix()))?;
    let rest = &text[kind.prefix().len()..];
    let (key_id, secret) = rest.split_once('.')?;
    if !is_valid_id(kind.id_kind(), key_id) || secret.len() != SECRET_LEN {
        return None;
    }
    if !secret
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return None;
    }
    Some(ParsedCredential {
        kind,
        key_id: key_id.to_owned(),
        secret: secret.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn minted_credentials_parse_and_verify() {
        let pepper = Pepper::new(b"pepper".to_vec());
        for kind in [
            CredentialKind::AgentKey,
            CredentialKind::AccountToken,
            CredentialKind::RouterKey,
        ] {
            let minted = pepper.mint(kind);
            assert!(minted.plaintext.starts_with(kind.prefix()));
            let parsed = parse_credential(&minted.plaintext).unwrap();
            assert_eq!(parsed.kind, kind);
            assert_eq!(parsed.key_id, minted.key_id);
            assert!(pepper.verify(&parsed, &minted.secret_hash));
            assert!(!Pepper::new(b"other".to_vec()).verify(&parsed, &minted.secret_hash));
            assert!(
                !minted
                    .secret_hash
                    .contains(&minted.plaintext[minted.plaintext.len() - 43..])
            );
        }
    }

    #[test]
    fn malformed_credentials_do_not_parse() {
        let pepper = Pepper::new(b"pepper".to_vec());
        let good = pepper.mint(CredentialKind::AgentKey).plaintext;
        assert!(parse_credential("").is_none());
        assert!(parse_credential("ask_live_").is_none());
        assert!(parse_credential(&good[..good.len() - 1]).is_none());
        assert!(parse_credential(&good.replace("ask_live_", "ask_test_")).is_none());
        assert!(parse_credential(&format!("{good}x")).is_none());
        assert!(parse_credential(&good.replace('.', "")).is_none());
    }

    #[test]
    fn debug_output_never_shows_the_secret() {
        let minted = Pepper::new(b"p".to_vec()).mint(CredentialKind::AgentKey);
        let secret = minted.plaintext.rsplit('.').next().unwrap().to_owned();
        assert!(!format!("{minted:?}").contains(&secret));
        let parsed = parse_credential(&minted.plaintext).unwrap();
        assert!(!format!("{parsed:?}").contains(&secret));
    }

    fn kinds() -> impl Strategy<Value = CredentialKind> {
        prop_oneof![
            Just(CredentialKind::AgentKey),
            Just(CredentialKind::AccountToken),
            Just(CredentialKind::RouterKey),
        ]
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics_the_parser(text in ".{0,200}") {
            let _ = parse_credential(&text);
        }

        // Text built from the format's own pieces reaches the deeper checks (id, length, alphabet).
        #[test]
        fn credential_shaped_text_never_panics_and_parses_only_in_canonical_form(
            prefix in prop_oneof![Just("ask_live_"), Just("acct_live_"), Just("ark_live_"), Just("ask_test_")],
            id_prefix in prop_oneof![Just("key_"), Just("rk_"), Just("tok_"), Just("agt_"), Just("")],
            id in "[0-9a-zA-Z]{0,30}",
            secret in "[A-Za-z0-9_.=+/-]{0,50}",
        ) {
            let text = format!("{prefix}{id_prefix}{id}.{secret}");
            if let Some(parsed) = parse_credential(&text) {
                prop_assert_eq!(format!("{}{}.{}", parsed.kind.prefix(), parsed.key_id, parsed.secret), text);
                prop_assert_eq!(parsed.secret.len(), SECRET_LEN);
            }
        }

        // Accepts exactly what it issues: every minted credential parses and verifies; changing any
        // one character makes it either unparseable or fail verification.
        #[test]
        fn minted_credentials_are_accepted_and_any_one_character_change_is_refused(
            kind in kinds(),
            position in any::<prop::sample::Index>(),
            replacement in any::<char>(),
        ) {
            let pepper = Pepper::new(b"property".to_vec());
            let minted = pepper.mint(kind);
            let parsed = parse_credential(&minted.plaintext).unwrap();
            prop_assert_eq!(parsed.kind, kind);
            prop_assert_eq!(&parsed.key_id, &minted.key_id);
            prop_assert!(pepper.verify(&parsed, &minted.secret_hash));
            let mut chars: Vec<char> = minted.plaintext.chars().collect();
            let at = position.index(chars.len());
            prop_assume!(chars[at] != replacement);
            chars[at] = replacement;
            let changed: String = chars.into_iter().collect();
            let accepted = parse_credential(&changed).is_some_and(|p| {
                p.key_id == minted.key_id && pepper.verify(&p, &minted.secret_hash)
            });
            prop_assert!(!accepted, "{} accepted", changed);
        }
    }
}
