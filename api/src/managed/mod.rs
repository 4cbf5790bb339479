//! Field management for server-side apply and every other write: who owns which fields of
//! an object (`metadata.managedFields`, in upstream's FieldsV1 form), how an applied
//! configuration merges and what it removes, and which writes conflict. Pure functions over
//! JSON and the kind's OpenAPI schema, after upstream's structured-merge-diff (v4/v6) and
//! k8s.io/apimachinery's managedfields.
//!
//! - [`path`]: field paths (`f:`, `k:{...}`, `v:`, `i:`; `.spec.containers[name="c"]`).
//! - [`set`]: sets of paths; [`fieldsv1`]: their JSON form.
//! - [`schema`]: granular/atomic structs and maps, atomic/set/keyed lists, from OpenAPI.
//! - [`typed`]: field sets, comparisons, merges and removals over an object.
//! - [`managers`]: managedFields entries, Apply and Update.
//! - [`created`]: a plain create's entry, straight from the object.

pub mod created;
pub mod fieldsv1;
pub mod managers;
pub mod path;
pub mod schema;
pub mod set;
pub mod typed;

#[cfg(test)]
mod tests;

pub use created::create_managed_fields;
pub use fieldsv1::{from_fields_v1, to_fields_v1};
pub use managers::{apply, update, Conflict, Context, Entry, Managed, Operation, Writer};
pub use path::{Path, PathElement};
pub use schema::Schema;
pub use set::Set;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The object does not fit its schema as field management needs it (a keyed list item
    /// without its key, a duplicate key): upstream's 500 "failed to create typed ... object".
    #[error("{0}")]
    Schema(String),
    /// The client-supplied managedFields do not decode.
    #[error("{0}")]
    InvalidManagedFields(String),
    /// An apply would change fields other managers own.
    #[error("{}", managers::conflicts_message(.0))]
    Conflicts(Vec<Conflict>),
}
