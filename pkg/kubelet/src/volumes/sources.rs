//! The files of configMap, secret, downwardAPI and projected volumes.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    ConfigMap, DownwardAPIVolumeFile, KeyToPath, Pod, Secret, Volume,
};
use kube::{api::Api, Client};
use tracing::warn;

use super::{atomic_writer::Payload, VolumeError};
use crate::env::{field_value, format_map, resource_value, PodFacts};

pub type Facts<'a> = PodFacts<'a>;

const DEFAULT_MODE: u32 = 0o644;

/// The volume's files, or None for a volume kind this module does not handle.
pub async fn payload(
    client: &Client,
    pod: &Pod,
    v: &Volume,
    facts: &Facts<'_>,
) -> Result<Option<Payload>, VolumeError> {
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    let setup = |message: String| VolumeError::Setup {
        volume: v.name.clone(),
        message,
    };
    let mut out = Payload::new();
    if let Some(cm) = &v.config_map {
        let mode = cm.default_mode.map_or(DEFAULT_MODE, |m| m as u32);
        let source = Keyed::config_map(&cm.name, cm.items.as_deref(), cm.optional);
        source
            .add(&mut out, client, &ns, mode)
            .await
            .map_err(setup)?;
        return Ok(Some(out));
    }
    if let Some(s) = &v.secret {
        let name = s.secret_name.clone().unwrap_or_default();
        let mode = s.default_mode.map_or(DEFAULT_MODE, |m| m as u32);
        let source = Keyed::secret(&name, s.items.as_deref(), s.optional);
        source
            .add(&mut out, client, &ns, mode)
            .await
            .map_err(setup)?;
        return Ok(Some(out));
    }
    if let Some(d) = &v.downward_api {
        let mode = d.default_mode.map_or(DEFAULT_MODE, |m| m as u32);
        add_downward(
            &mut out,
            pod,
            d.items.as_deref().unwrap_or_default(),
            mode,
            facts,
        )
        .map_err(setup)?;
        return Ok(Some(out));
    }
    if let Some(p) = &v.projected {
        let mode = p.default_mode.map_or(DEFAULT_MODE, |m| m as u32);
        for src in p.sources.iter().flatten() {
            if let Some(cm) = &src.config_map {
                let source = Keyed::config_map(&cm.name, cm.items.as_deref(), cm.optional);
                source
                    .add(&mut out, client, &ns, mode)
                    .await
                    .map_err(setup)?;
            }
            if let Some(s) = &src.secret {
                let source = Keyed::secret(&s.name, s.items.as_deref(), s.optional);
                source
                    .add(&mut out, client, &ns, mode)
                    .await
                    .map_err(setup)?;
            }
            if let Some(d) = &src.downward_api {
                add_downward(
                    &mut out,
                    pod,
                    d.items.as_deref().unwrap_or_default(),
                    mode,
                    facts,
                )
                .map_err(setup)?;
            }
            if let Some(t) = &src.service_account_token {
                match super::tokens::token(client, pod, t.audience.as_deref(), t.expiration_seconds)
                    .await
                {
                    Ok(tok) => {
                        out.insert(t.path.clone(), (tok.into_bytes(), mode));
                    }
                    Err(e) => warn!(
                        volume = %v.name, error = %e,
                        "no service account token (serviceaccounts/token unavailable); skipping that source"
                    ),
                }
            }
        }
        return Ok(Some(out));
    }
    Ok(None)
}

/// A configMap or secret source, as a volume or as a projected volume's source: the same
/// lookup, items, optional handling and upstream error texts for both.
struct Keyed<'a> {
    secret: bool,
    name: &'a str,
    items: Option<&'a [KeyToPath]>,
    optional: Option<bool>,
}

impl<'a> Keyed<'a> {
    fn config_map(name: &'a str, items: Option<&'a [KeyToPath]>, optional: Option<bool>) -> Self {
        Keyed {
            secret: false,
            name,
            items,
            optional,
        }
    }

    fn secret(name: &'a str, items: Option<&'a [KeyToPath]>, optional: Option<bool>) -> Self {
        Keyed {
            secret: true,
            name,
            items,
            optional,
        }
    }

    /// Adds the object's keys to `out`; the error is the setup message.
    async fn add(
        &self,
        out: &mut Payload,
        client: &Client,
        ns: &str,
        mode: u32,
    ) -> Result<(), String> {
        let data = if self.secret {
            get::<Secret>(client, ns, self.name)
                .await?
                .map(|o| secret_data(&o))
        } else {
            get::<ConfigMap>(client, ns, self.name)
                .await?
                .map(|o| config_map_data(&o))
        };
        let (kind, missing_key) = if self.secret {
            ("secret", "references non-existent secret key")
        } else {
            ("configmap", "configmap references non-existent config key")
        };
        match data {
            Some(data) => add_items(out, data, self.items, mode, self.optional)
                .map_err(|k| format!("{missing_key}: {k}")),
            None if self.optional == Some(true) => Ok(()),
            None => Err(format!("{kind} \"{}\" not found", self.name)),
        }
    }
}

async fn get<K>(client: &Client, ns: &str, name: &str) -> Result<Option<K>, String>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    Api::<K>::namespaced(client.clone(), ns)
        .get_opt(name)
        .await
        .map_err(|e| e.to_string())
}

fn config_map_data(cm: &ConfigMap) -> BTreeMap<String, Vec<u8>> {
    let mut out: BTreeMap<String, Vec<u8>> = cm
        .data
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.into_bytes()))
        .collect();
    for (k, v) in cm.binary_data.clone().unwrap_or_default() {
        out.insert(k, v.0);
    }
    out
}

fn secret_data(s: &Secret) -> BTreeMap<String, Vec<u8>> {
    let mut out: BTreeMap<String, Vec<u8>> = s
        .data
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.0))
        .collect();
    for (k, v) in s.string_data.clone().unwrap_or_default() {
        out.insert(k, v.into_bytes());
    }
    out
}

/// All keys, or the listed items (a missing key fails unless optional); Err names the key.
fn add_items(
    out: &mut Payload,
    data: BTreeMap<String, Vec<u8>>,
    items: Option<&[KeyToPath]>,
    mode: u32,
    optional: Option<bool>,
) -> Result<(), String> {
    match items.filter(|i| !i.is_empty()) {
        None => {
            for (k, v) in data {
                out.insert(k, (v, mode));
            }
        }
        Some(items) => {
            for it in items {
                match data.get(&it.key) {
                    Some(v) => {
                        let m = it.mode.map_or(mode, |m| m as u32);
                        out.insert(it.path.clone(), (v.clone(), m));
                    }
                    None if optional == Some(true) => {}
                    None => return Err(it.key.clone()),
                }
            }
        }
    }
    Ok(())
}

fn add_downward(
    out: &mut Payload,
    pod: &Pod,
    items: &[DownwardAPIVolumeFile],
    mode: u32,
    facts: &Facts<'_>,
) -> Result<(), String> {
    for it in items {
        let value = if let Some(f) = &it.field_ref {
            match f.field_path.as_str() {
                "metadata.labels" => format_map(pod.metadata.labels.as_ref()),
                "metadata.annotations" => format_map(pod.metadata.annotations.as_ref()),
                p => field_value(pod, p, facts).map_err(|e| e.0)?,
            }
        } else if let Some(r) = &it.resource_field_ref {
            let spec = pod.spec.as_ref();
            let c = spec
                .and_then(|s| {
                    s.containers
                        .iter()
                        .find(|c| Some(c.name.as_str()) == r.container_name.as_deref())
                        .or(s.containers.first())
                })
                .ok_or("no container")?;
            resource_value(c, &r.resource, r.divisor.as_ref()).map_err(|e| e.0)?
        } else {
            continue;
        };
        let m = it.mode.map_or(mode, |m| m as u32);
        out.insert(it.path.clone(), (value.into_bytes(), m));
    }
    Ok(())
}
