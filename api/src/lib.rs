//! rkube-api: what the API server serves and how each kind behaves, as data and pure
//! functions over JSON objects (`serde_json::Value`). The API server is generic over this
//! registry: one REST implementation, no handler per type. No I/O here.
//!
//! - [`registry`]: every served resource (group, version, kind, plural, scope, verbs, short
//!   names, categories, subresources, storage prefix).
//! - [`table`]: the columns kubectl shows for each kind (`as=Table`), as upstream's printers.
//! - [`fields`]: the field-selector labels each kind supports.
//! - [`selectors`]: label and field selector parsing and matching.
//! - [`defaults`]: upstream defaulting.
//! - [`validation`]: upstream validation, with field errors worded as upstream.
//! - [`convert`]: conversion between versions that share storage (core and events.k8s.io Events).
//! - [`managed`]: field management (managedFields, server-side apply merges and conflicts).

pub mod convert;
pub mod defaults;
pub mod fields;
pub mod managed;
pub mod patch;
pub mod proto;
pub mod registry;
pub mod selectors;
pub mod table;
pub mod validation;

pub use registry::{GroupVersion, ResourceDef, SubresourceDef};
pub use validation::{FieldError, FieldErrorKind};
