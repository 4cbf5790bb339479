//! User impersonation (`kubectl --as`, `--as-group`, `--as-uid`): the `Impersonate-*` headers
//! replace the caller's identity, as upstream's WithImpersonation filter does, once the caller
//! may `impersonate` each user, group, uid and extra value asked for.

use axum::http::HeaderMap;

use crate::{authn::Identity, authz::Attributes, status::ApiError};

const USER: &str = "impersonate-user";
const GROUP: &str = "impersonate-group";
const UID: &str = "impersonate-uid";
const EXTRA: &str = "impersonate-extra-";

/// The identity the request acts as: `caller`, or whom its headers impersonate; `may` says
/// whether the caller may do what it is given (upstream's attributes: verb `impersonate` on
/// users, groups or serviceaccounts, authentication.k8s.io uids and userextras).
pub fn apply(
    caller: Identity,
    headers: &HeaderMap,
    may: impl Fn(&Identity, &Attributes) -> Result<(), ApiError>,
) -> Result<Identity, ApiError> {
    let values = |name: &str| -> Vec<String> {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_string)
            .collect()
    };
    let user = values(USER).into_iter().next();
    let groups = values(GROUP);
    let uid = values(UID).into_iter().next();
    let mut extra = std::collections::BTreeMap::<String, Vec<String>>::new();
    for (name, value) in headers {
        if let Some(key) = name.as_str().strip_prefix(EXTRA) {
            // Header names can't hold every key: upstream percent-encodes them.
            let key = percent_decode(key);
            if let Ok(v) = value.to_str() {
                extra.entry(key).or_default().push(v.to_string());
            }
        }
    }
    let Some(user) = user else {
        if !groups.is_empty() || uid.is_some() || !extra.is_empty() {
            let mut asked = Vec::new();
            asked.extend(groups.iter().map(|g| format!("group={g}")));
            asked.extend(uid.iter().map(|u| format!("uid={u}")));
            asked.extend(extra.keys().map(|k| format!("extra={k}")));
            return Err(ApiError::bad_request(format!(
                "requested [{}] without impersonating a user",
                asked.join(" ")
            )));
        }
        return Ok(caller);
    };
    // In upstream's order: the user (or account), groups, extras, the uid.
    let imp = |group: &str, resource: &str, ns: &str, name: &str| {
        Attributes::resource("impersonate", group, resource, ns, name)
    };
    let account = crate::serviceaccount::claims::split_username(&user);
    match account {
        Some((ns, name)) => may(&caller, &imp("", "serviceaccounts", ns, name))?,
        None => may(&caller, &imp("", "users", "", &user))?,
    }
    for g in &groups {
        may(&caller, &imp("", "groups", "", g))?;
    }
    for (key, values) in &extra {
        for v in values {
            let mut a = imp("authentication.k8s.io", "userextras", "", v);
            a.subresource = key.clone();
            may(&caller, &a)?;
        }
    }
    if let Some(uid) = &uid {
        may(&caller, &imp("authentication.k8s.io", "uids", "", uid))?;
    }
    let mut groups = groups;
    // A ServiceAccount impersonated without groups gets its account's groups.
    if groups.is_empty() {
        if let Some((ns, _)) = account {
            groups = vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{ns}"),
            ];
        }
    }
    let anonymous = user == "system:anonymous";
    let implied = if anonymous {
        "system:unauthenticated"
    } else {
        "system:authenticated"
    };
    if !groups.iter().any(|g| g == implied) {
        groups.push(implied.into());
    }
    Ok(Identity {
        user,
        groups,
        uid: uid.unwrap_or_default(),
        extra,
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    fn anyone(_: &Identity, _: &Attributes) -> Result<(), ApiError> {
        Ok(())
    }

    fn admin() -> Identity {
        Identity::new("system:admin", vec!["system:masters".into()])
    }

    #[test]
    fn impersonates_users_groups_and_extra() {
        assert_eq!(apply(admin(), &headers(&[]), anyone).unwrap(), admin());
        let id = apply(
            admin(),
            &headers(&[
                ("Impersonate-User", "jane"),
                ("Impersonate-Group", "dev"),
                ("Impersonate-Group", "ops"),
                ("Impersonate-Uid", "42"),
                ("Impersonate-Extra-Scopes%2Fx", "view"),
            ]),
            anyone,
        )
        .unwrap();
        assert_eq!(id.user, "jane");
        assert_eq!(id.groups, ["dev", "ops", "system:authenticated"]);
        assert_eq!(id.uid, "42");
        assert_eq!(id.extra["scopes/x"], ["view"]);
        let sa = apply(
            admin(),
            &headers(&[("Impersonate-User", "system:serviceaccount:ns:bot")]),
            anyone,
        )
        .unwrap();
        assert_eq!(
            sa.groups,
            [
                "system:serviceaccounts",
                "system:serviceaccounts:ns",
                "system:authenticated"
            ]
        );
        let err = apply(admin(), &headers(&[("Impersonate-Group", "dev")]), anyone).unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            (400, "requested [group=dev] without impersonating a user")
        );
    }

    #[test]
    fn each_impersonated_value_is_authorized_in_upstreams_order() {
        let asked = std::sync::Mutex::new(Vec::new());
        let record = |_: &Identity, a: &Attributes| {
            asked.lock().unwrap().push(format!(
                "{}/{}/{}/{}/{}",
                a.api_group, a.resource, a.subresource, a.namespace, a.name
            ));
            Ok(())
        };
        apply(
            admin(),
            &headers(&[
                ("Impersonate-User", "system:serviceaccount:ns:bot"),
                ("Impersonate-Group", "dev"),
                ("Impersonate-Uid", "42"),
                ("Impersonate-Extra-Scopes", "view"),
            ]),
            record,
        )
        .unwrap();
        assert_eq!(
            *asked.lock().unwrap(),
            [
                "/serviceaccounts//ns/bot",
                "/groups///dev",
                "authentication.k8s.io/userextras/scopes//view",
                "authentication.k8s.io/uids///42",
            ]
        );
        let refuse = |who: &Identity, a: &Attributes| {
            if a.resource == "groups" {
                Err(crate::authz::forbidden(who, a, ""))
            } else {
                Ok(())
            }
        };
        let err = apply(
            admin(),
            &headers(&[("Impersonate-User", "jane"), ("Impersonate-Group", "ops")]),
            refuse,
        )
        .unwrap_err();
        assert_eq!(
            err.message,
            "groups \"ops\" is forbidden: User \"system:admin\" cannot impersonate resource \"groups\" in API group \"\" at the cluster scope"
        );
    }
}
