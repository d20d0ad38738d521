//! Identifiers: opaque strings with a type prefix (`agt_`, `pur_`, ...) followed by a lowercase ULID, so
//! ids are unique and sort by creation time. Generation is monotonic within one process.

use std::sync::Mutex;

/// The type prefixes of SPEC section 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    Account,
    Agent,
    Key,
    Quote,
    Purchase,
    Service,
    Transaction,
    RouterKey,
    DnsRecord,
    Message,
    Call,
    Snapshot,
    Credential,
    Event,
    Job,
    Session,
    Spend,
}

impl IdKind {
    pub const fn prefix(self) -> &'static str {
        match self {
            Self::Account => "acct_",
            Self::Agent => "agt_",
            Self::Key => "key_",
            Self::Quote => "quote_",
            Self::Purchase => "pur_",
            Self::Service => "svc_",
            Self::Transaction => "txn_",
            Self::RouterKey => "rk_",
            Self::DnsRecord => "dns_",
            Self::Message => "msg_",
            Self::Call => "call_",
            Self::Snapshot => "snap_",
            Self::Credential => "cred_",
            Self::Event => "evt_",
            Self::Job => "job_",
            Self::Session => "ses_",
            Self::Spend => "spd_",
        }
    }
}

static GENERATOR: Mutex<Option<ulid::Generator>> = Mutex::new(None);

/// A new id of the given kind, e.g. `agt_01jdx3c2v8k6c2q4w1z9y7t5re`.
pub fn new_id(kind: IdKind) -> String {
    let ulid = {
        let mut guard = GENERATOR
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let generator = guard.get_or_insert_with(ulid::Generator::new);
        // Monotonic overflow within one millisecond is astronomically unlikely; fall back to a fresh ULID.
        generator.generate().unwrap_or_else(|_| ulid::Ulid::new())
    };
    format!("{}{}", kind.prefix(), ulid.to_string().to_ascii_lowercase())
}

/// Whether `text` looks like an id of `kind` (prefix plus a 26-character ULID). Used to reject garbage
/// early with a clear error; lookups still go to the database.
pub fn is_valid_id(kind: IdKind, text: &str) -> bool {
    text.strip_prefix(kind.prefix())
        .is_some_and(|rest| rest.len() == 26 && ulid::Ulid::from_string(rest).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_their_prefix_and_sort_by_creation() {
        let a = new_id(IdKind::Agent);
        let b = new_id(IdKind::Agent);
        assert!(a.starts_with("agt_"));
        assert!(a < b, "{a} should sort before {b}");
        assert!(is_valid_id(IdKind::Agent, &a));
        assert!(!is_valid_id(IdKind::Purchase, &a));
        assert!(!is_valid_id(IdKind::Agent, "agt_nope"));
    }

    const KINDS: [IdKind; 17] = [
        IdKind::Account,
        IdKind::Agent,
        IdKind::Key,
        IdKind::Quote,
        IdKind::Purchase,
        IdKind::Service,
        IdKind::Transaction,
        IdKind::RouterKey,
        IdKind::DnsRecord,
        IdKind::Message,
        IdKind::Call,
        IdKind::Snapshot,
        IdKind::Credential,
        IdKind::Event,
        IdKind::Job,
        IdKind::Session,
        IdKind::Spend,
    ];

    proptest::proptest! {
        // Path parameters reach this check straight from the URL.
        #[test]
        fn arbitrary_text_never_panics_the_id_check(text in ".{0,60}", k in 0usize..17) {
            let kind = KINDS[k];
            let _ = is_valid_id(kind, &text);
            let _ = is_valid_id(kind, &format!("{}{text}", kind.prefix()));
        }

        #[test]
        fn every_generated_id_is_valid_for_its_kind_only(k in 0usize..17) {
            let id = new_id(KINDS[k]);
            for (other, kind) in KINDS.iter().enumerate() {
                proptest::prop_assert_eq!(is_valid_id(*kind, &id), other == k, "{} as {:?}", id, kind);
            }
        }
    }
}
