//! The claims of a bound ServiceAccount token, laid out as upstream's (pkg/serviceaccount/
//! claims.go): the registered JWT claims plus the private `kubernetes.io` claim naming the
//! ServiceAccount and what the token is bound to.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub aud: Vec<String>,
    pub exp: i64,
    pub iat: i64,
    pub iss: String,
    pub jti: String,
    #[serde(rename = "kubernetes.io")]
    pub kubernetes: Private,
    pub nbf: i64,
    pub sub: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Private {
    pub namespace: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<Ref>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<Ref>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<Ref>,
    pub serviceaccount: Ref,
    /// Past this time a token with an extended lifetime is reported as stale (upstream warns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warnafter: Option<i64>,
}

/// A bound object: name and uid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ref {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
}

/// `system:serviceaccount:<ns>:<name>`, the user a token authenticates as.
pub fn username(namespace: &str, name: &str) -> String {
    format!("system:serviceaccount:{namespace}:{name}")
}

/// The ServiceAccount a `system:serviceaccount:<ns>:<name>` subject names.
pub fn split_username(sub: &str) -> Option<(&str, &str)> {
    let rest = sub.strip_prefix("system:serviceaccount:")?;
    let (ns, name) = rest.split_once(':')?;
    (!ns.is_empty() && !name.is_empty() && !name.contains(':')).then_some((ns, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_round_trip() {
        assert_eq!(username("ns", "sa"), "system:serviceaccount:ns:sa");
        assert_eq!(
            split_username("system:serviceaccount:ns:sa"),
            Some(("ns", "sa"))
        );
        assert_eq!(split_username("system:serviceaccount:ns"), None);
        assert_eq!(split_username("system:admin"), None);
    }

    #[test]
    fn serializes_like_upstream() {
        let c = Claims {
            aud: vec!["a".into()],
            exp: 2,
            iat: 1,
            iss: "i".into(),
            jti: "j".into(),
            kubernetes: Private {
                namespace: "ns".into(),
                node: None,
                pod: Some(Ref {
                    name: "p".into(),
                    uid: "pu".into(),
                }),
                secret: None,
                serviceaccount: Ref {
                    name: "sa".into(),
                    uid: "u".into(),
                },
                warnafter: None,
            },
            nbf: 1,
            sub: "system:serviceaccount:ns:sa".into(),
        };
        assert_eq!(
            serde_json::to_value(&c).unwrap(),
            serde_json::json!({"aud": ["a"], "exp": 2, "iat": 1, "iss": "i", "jti": "j",
                "kubernetes.io": {"namespace": "ns", "pod": {"name": "p", "uid": "pu"},
                    "serviceaccount": {"name": "sa", "uid": "u"}},
                "nbf": 1, "sub": "system:serviceaccount:ns:sa"})
        );
    }
}
