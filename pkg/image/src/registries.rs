//! k3s' `registries.yaml`: mirrors (endpoint lists and repository rewrites) and per-host
//! credentials and TLS settings, and the list of endpoints one image is tried at.

use std::{collections::BTreeMap, path::PathBuf};

use crate::{
    reference::{credential_host, ImageRef, DOCKER_HUB, DOCKER_HUB_ENDPOINT},
    Error, Result,
};

/// k3s' `registries.yaml` (`--private-registry`): mirrors per registry host and per-host configs.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistriesConfig {
    #[serde(default)]
    pub mirrors: BTreeMap<String, Mirror>,
    #[serde(default)]
    pub configs: BTreeMap<String, RegistryHostConfig>,
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mirror {
    /// e.g. `http://127.0.0.1:5000`; tried in order, then the registry itself.
    #[serde(default)]
    pub endpoint: Vec<String>,
    /// Optional rewrites (regex -> replacement) of the repository path.
    #[serde(default)]
    pub rewrite: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryHostConfig {
    #[serde(default)]
    pub auth: Option<HostAuth>,
    #[serde(default)]
    pub tls: Option<HostTls>,
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostAuth {
    pub username: Option<String>,
    pub password: Option<String>,
    pub auth: Option<String>,
    pub identitytoken: Option<String>,
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostTls {
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    pub ca_file: Option<PathBuf>,
    #[serde(default)]
    pub insecure_skip_verify: bool,
}

impl RegistriesConfig {
    /// Reads and validates a registries.yaml; errors name the file and the bad key.
    pub fn from_file(path: &std::path::Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Other(format!("{}: {e}", path.display())))?;
        Self::parse(&text).map_err(|e| Error::Other(format!("{}: {e}", path.display())))
    }

    /// Parses registries.yaml text and checks endpoints and rewrite patterns.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        let cfg: Self = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
        for (host, mirror) in &cfg.mirrors {
            for e in &mirror.endpoint {
                Endpoint::parse(e)
                    .map_err(|why| format!("mirrors.{host}.endpoint: {e:?}: {why}"))?;
            }
            for pattern in mirror.rewrite.keys() {
                regex::Regex::new(pattern)
                    .map_err(|why| format!("mirrors.{host}.rewrite: {pattern:?}: {why}"))?;
            }
        }
        Ok(cfg)
    }

    /// Where to pull `image` from, in order: its mirrors' endpoints (with rewrites), then the
    /// registry itself (k3s and containerd always fall back to it).
    pub fn endpoints(&self, image: &ImageRef) -> Vec<Endpoint> {
        let mut out: Vec<Endpoint> = Vec::new();
        let upstream = Endpoint::upstream(&image.registry, &image.repository);
        if let Some(mirror) = self
            .mirrors
            .get(&image.registry)
            .or_else(|| self.mirrors.get("*"))
        {
            let repository = rewrite(&mirror.rewrite, &image.repository);
            for e in &mirror.endpoint {
                // Validated in parse(); a config built in code may still hold junk: skip it.
                let Ok(mut ep) = Endpoint::parse(e) else {
                    continue;
                };
                if ep.host == upstream.host {
                    continue;
                }
                ep.repository = repository.clone();
                if !out.contains(&ep) {
                    out.push(ep);
                }
            }
        }
        out.push(upstream);
        out
    }

    /// The per-host settings for an endpoint host (`configs` keys are hosts, maybe with a scheme).
    pub fn host_config(&self, host: &str) -> Option<&RegistryHostConfig> {
        self.configs.get(host).or_else(|| {
            self.configs
                .iter()
                .find(|(k, _)| credential_host(k) == credential_host(host))
                .map(|(_, v)| v)
        })
    }
}

/// Applies the first matching rewrite (patterns are tried in key order).
fn rewrite(rules: &BTreeMap<String, String>, repository: &str) -> String {
    for (pattern, replacement) in rules {
        if let Ok(re) = regex::Regex::new(pattern) {
            if re.is_match(repository) {
                return re.replace(repository, replacement.as_str()).into_owned();
            }
        }
    }
    repository.to_string()
}

/// One place an image can be pulled from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Plain HTTP instead of HTTPS.
    pub insecure_http: bool,
    /// `127.0.0.1:5000`, `registry-1.docker.io`.
    pub host: String,
    /// The repository at that endpoint (after rewrites).
    pub repository: String,
    /// The registry itself rather than a mirror.
    pub upstream: bool,
}

impl Endpoint {
    fn parse(url: &str) -> Result<Self, &'static str> {
        let (insecure_http, rest) = if let Some(r) = url.strip_prefix("http://") {
            (true, r)
        } else if let Some(r) = url.strip_prefix("https://") {
            (false, r)
        } else if url.contains("://") {
            return Err("only http:// and https:// endpoints are supported");
        } else {
            (is_loopback(url), url)
        };
        let host = rest.split('/').next().unwrap_or_default();
        let path = &rest[host.len()..];
        if host.is_empty() {
            return Err("no host");
        }
        if !matches!(path, "" | "/" | "/v2" | "/v2/") {
            return Err("endpoints with a path are not supported");
        }
        Ok(Self {
            insecure_http,
            host: host.to_string(),
            repository: String::new(),
            upstream: false,
        })
    }

    fn upstream(registry: &str, repository: &str) -> Self {
        let host = if registry == DOCKER_HUB {
            DOCKER_HUB_ENDPOINT.to_string()
        } else {
            registry.to_string()
        };
        Self {
            // Like containerd's CRI plugin: a registry on this host speaks plain HTTP.
            insecure_http: is_loopback(&host),
            host,
            repository: repository.to_string(),
            upstream: true,
        }
    }

    /// `http://127.0.0.1:5000`, for messages.
    pub fn url(&self) -> String {
        let scheme = if self.insecure_http { "http" } else { "https" };
        format!("{scheme}://{}", self.host)
    }
}

fn is_loopback(host_port: &str) -> bool {
    let host = if let Some(rest) = host_port.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        host_port.split(':').next().unwrap_or_default()
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::parse;

    #[test]
    fn docker_io_mirror_to_local_http_registry() {
        let cfg = RegistriesConfig::parse(
            "mirrors:\n  docker.io:\n    endpoint:\n      - \"http://127.0.0.1:5000\"\n",
        )
        .unwrap();
        let eps = cfg.endpoints(&parse("busybox:1.36").unwrap());
        assert_eq!(eps.len(), 2);
        assert_eq!(eps[0].url(), "http://127.0.0.1:5000");
        assert_eq!(eps[0].repository, "library/busybox");
        assert!(!eps[0].upstream);
        assert_eq!(eps[1].url(), "https://registry-1.docker.io");
        assert!(eps[1].upstream);
    }

    #[test]
    fn rewrites_and_wildcard() {
        let cfg = RegistriesConfig::parse(
            r#"
mirrors:
  "*":
    endpoint: ["https://mirror.example.com"]
    rewrite:
      "^library/(.*)": "hub/$1"
configs:
  "mirror.example.com":
    auth: {username: u, password: p}
    tls: {insecure_skip_verify: true}
"#,
        )
        .unwrap();
        let eps = cfg.endpoints(&parse("quay.io/library/x").unwrap());
        assert_eq!(eps[0].repository, "hub/x");
        assert_eq!(eps[0].host, "mirror.example.com");
        assert_eq!(eps[1].repository, "library/x");
        assert!(cfg
            .host_config("mirror.example.com")
            .unwrap()
            .auth
            .is_some());
    }

    #[test]
    fn loopback_registry_without_mirror_is_http() {
        let eps = RegistriesConfig::default().endpoints(&parse("127.0.0.1:5000/a/b").unwrap());
        assert_eq!(eps.len(), 1);
        assert_eq!(eps[0].url(), "http://127.0.0.1:5000");
    }

    #[test]
    fn bad_config_names_the_key() {
        let e =
            RegistriesConfig::parse("mirrors:\n  docker.io:\n    endpoints: [x]\n").unwrap_err();
        assert!(e.contains("endpoints"), "{e}");
        let e = RegistriesConfig::parse("mirrors:\n  docker.io:\n    endpoint: [\"ftp://x\"]\n")
            .unwrap_err();
        assert!(e.contains("mirrors.docker.io.endpoint"), "{e}");
    }
}
