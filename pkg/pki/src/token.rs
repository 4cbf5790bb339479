//! Join tokens in k3s's format: `K10<sha256 of the CA bundle>::<user>:<password>`.
//!
//! The CA hash lets a joining node pin the server's CA on first contact
//! (trust on first use without an insecure window); the short form (just
//! the password) skips that check.

use std::fmt;
use std::path::Path;

use crate::files::{read_optional, write_atomic};
use crate::{hex, random_bytes, Error, Result};

/// Marks a full-form token (k3s's "version 1.0" prefix).
pub const PREFIX: &str = "K10";
/// The username in tokens this server generates.
pub const SERVER_USERNAME: &str = "server";
/// The username k3s assumes for a short-form token.
pub const DEFAULT_USERNAME: &str = "node";

/// A parsed join token.
#[derive(Clone, PartialEq, Eq)]
pub struct JoinToken {
    /// Lowercase hex SHA-256 of the CA bundle PEM, if the token pins one.
    pub ca_hash: Option<String>,
    pub username: String,
    pub password: String,
}

impl JoinToken {
    /// Whether `ca_pem` is the CA this token pins (always true for a
    /// short-form token, which pins nothing).
    pub fn matches_ca(&self, ca_pem: &str) -> bool {
        self.ca_hash.as_deref().is_none_or(|h| h == ca_hash(ca_pem))
    }
}

impl fmt::Display for JoinToken {
    /// The full `K10...` form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{PREFIX}{}::{}:{}",
            self.ca_hash.as_deref().unwrap_or(""),
            self.username,
            self.password
        )
    }
}

impl fmt::Debug for JoinToken {
    /// The password is a credential; keep it out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinToken")
            .field("ca_hash", &self.ca_hash)
            .field("username", &self.username)
            .field("password", &"[redacted]")
            .finish()
    }
}

/// Lowercase hex SHA-256 of the CA bundle's PEM bytes, as k3s computes it.
pub fn ca_hash(ca_pem: &str) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, ca_pem.as_bytes()).as_ref())
}

/// Parses the full form `K10<hash>::<user>:<password>` (hash may be empty)
/// or a short form, which like k3s is taken as the password of
/// [`DEFAULT_USERNAME`]. Surrounding whitespace is ignored.
pub fn parse(s: &str) -> Result<JoinToken> {
    let s = s.trim();
    if s.is_empty() {
        return Err(Error::InvalidToken("empty".into()));
    }
    let Some(rest) = s.strip_prefix(PREFIX) else {
        return Ok(JoinToken {
            ca_hash: None,
            username: DEFAULT_USERNAME.into(),
            password: s.into(),
        });
    };
    let (hash, creds) = match rest.split_once("::") {
        Some((h, c)) => (h, c),
        None => ("", rest),
    };
    let ca_hash = if hash.is_empty() {
        None
    } else if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        Some(hash.to_ascii_lowercase())
    } else {
        return Err(Error::InvalidToken(
            "CA hash is not 64 hex digits (SHA-256)".into(),
        ));
    };
    let (username, password) = creds
        .split_once(':')
        .filter(|(u, p)| !u.is_empty() && !p.is_empty())
        .ok_or_else(|| Error::InvalidToken("expected K10<hash>::<user>:<password>".into()))?;
    Ok(JoinToken {
        ca_hash,
        username: username.into(),
        password: password.into(),
    })
}

/// Returns the server token stored at `path`, creating it (mode 0600) on
/// first start as `K10<ca_hash>::server:<32 random hex>`.
///
/// An existing token keeps its password; if its CA hash does not match
/// `ca_pem` (the CA was regenerated) it is rewritten with the current hash,
/// since a stale pin would make every join fail.
pub fn ensure(path: &Path, ca_pem: &str) -> Result<String> {
    let hash = ca_hash(ca_pem);
    let token = match read_optional(path)? {
        Some(existing) => {
            let mut t = parse(&existing).map_err(|e| Error::Invalid {
                path: path.to_owned(),
                reason: e.to_string(),
            })?;
            if t.ca_hash.as_deref() == Some(hash.as_str()) {
                return Ok(existing.trim().to_owned());
            }
            t.ca_hash = Some(hash);
            t
        }
        None => JoinToken {
            ca_hash: Some(hash),
            username: SERVER_USERNAME.into(),
            password: hex(&random_bytes::<16>()?),
        },
    };
    let s = token.to_string();
    write_atomic(path, format!("{s}\n").as_bytes(), 0o600)?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    const CA: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

    #[test]
    fn ensure_creates_then_reuses() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server/token");
        let t = ensure(&path, CA).unwrap();
        let parsed = parse(&t).unwrap();
        assert_eq!(parsed.ca_hash.as_deref(), Some(ca_hash(CA).as_str()));
        assert_eq!(parsed.username, "server");
        assert_eq!(parsed.password.len(), 32);
        assert!(parsed.password.bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(parsed.matches_ca(CA));
        assert!(!parsed.matches_ca("other"));
        assert_eq!(parsed.to_string(), t);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);

        assert_eq!(ensure(&path, CA).unwrap(), t);
        // A new CA keeps the password but updates the pin.
        let t2 = parse(&ensure(&path, "new ca").unwrap()).unwrap();
        assert_eq!(t2.password, parsed.password);
        assert_eq!(t2.ca_hash, Some(ca_hash("new ca")));
    }

    #[test]
    fn parse_forms() {
        let hash = ca_hash(CA);
        let full = parse(&format!("K10{hash}::server:s3cret")).unwrap();
        assert_eq!(
            full,
            JoinToken {
                ca_hash: Some(hash.clone()),
                username: "server".into(),
                password: "s3cret".into()
            }
        );
        let short = parse(" s3cret\n").unwrap();
        assert_eq!(short.ca_hash, None);
        assert_eq!(short.username, DEFAULT_USERNAME);
        assert_eq!(short.password, "s3cret");
        assert!(short.matches_ca("anything"));
        let nohash = parse("K10::node:pw:with:colons").unwrap();
        assert_eq!(nohash.ca_hash, None);
        assert_eq!(nohash.password, "pw:with:colons");
        assert_eq!(parse(&nohash.to_string()).unwrap(), nohash);

        assert!(parse("").is_err());
        assert!(parse("K10abc::server:pw").is_err());
        assert!(parse(&format!("K10{hash}::server:")).is_err());
        assert!(parse(&format!("K10{hash}::nopassword")).is_err());
        assert!(!format!("{full:?}").contains("s3cret"));
    }
}
