//! Pure domain of Agent Store: money, identifiers, timestamps, credential format, the catalog with its
//! configuration validation and pricing. No IO, no async, no database or HTTP types live here, so every
//! rule in this crate can be unit- and property-tested in isolation.

pub mod catalog;
pub mod dns;
pub mod fields;
pub mod ids;
pub mod keys;
pub mod money;
pub mod policy;
pub mod time;

pub use fields::{FieldError, FieldErrors};
