//! PodSpec container -> rkube_runtime::ContainerSpec: argv merged with the image's
//! Entrypoint/Cmd, env (image first), user and groups, working dir, resources, security.

use std::{collections::HashMap, path::PathBuf};

use k8s_openapi::api::core::v1::{Container, Pod};
use rkube_image::Image;
use rkube_runtime::{ContainerSpec, Mount, Resources, Sandbox, Security};

use crate::env::{expand, parse_quantity, ConfigError};

pub const LOG_MAX_SIZE: u64 = 10 * 1024 * 1024;
pub const LOG_MAX_FILES: usize = 5;
pub const CPU_PERIOD: u64 = 100_000;

/// Everything the spec is made of, resolved.
pub struct Parts<'a> {
    pub pod: &'a Pod,
    pub container: &'a Container,
    pub image: &'a Image,
    /// The container's own env (envFrom + env), already resolved and expanded.
    pub env: Vec<(String, String)>,
    pub id: String,
    pub sandbox: Sandbox,
    pub mounts: Vec<Mount>,
    pub log_path: PathBuf,
}

pub fn build(p: Parts<'_>) -> Result<ContainerSpec, ConfigError> {
    let c = p.container;
    let vars: HashMap<&str, &str> = p
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let args = argv(c, &p.image.config, &vars);
    if args.is_empty() {
        return Err(ConfigError(
            "no command specified: the container has no command and the image no entrypoint or cmd"
                .into(),
        ));
    }
    let mut env: Vec<(String, String)> = p
        .image
        .config
        .env
        .iter()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (kv.clone(), String::new()),
        })
        .collect();
    for (k, v) in p.env {
        match env.iter_mut().find(|(x, _)| *x == k) {
            Some(slot) => slot.1 = v,
            None => env.push((k, v)),
        }
    }
    let (uid, gid) = user(p.pod, c, p.image)?;
    let pod_sc = p
        .pod
        .spec
        .as_ref()
        .and_then(|s| s.security_context.as_ref());
    let mut additional_gids: Vec<u32> = pod_sc
        .and_then(|s| s.supplemental_groups.clone())
        .unwrap_or_default()
        .into_iter()
        .chain(pod_sc.and_then(|s| s.fs_group))
        .filter_map(|g| u32::try_from(g).ok())
        .collect();
    additional_gids.sort_unstable();
    additional_gids.dedup();
    let cwd = c
        .working_dir
        .clone()
        .filter(|w| !w.is_empty())
        .or_else(|| p.image.config.working_dir.clone().filter(|w| !w.is_empty()))
        .unwrap_or_else(|| "/".into());
    Ok(ContainerSpec {
        id: p.id,
        sandbox: p.sandbox,
        // The image store lists layers bottom first, as the runtime wants them.
        layers: p.image.layers.clone(),
        args,
        env: env.into_iter().map(|(k, v)| format!("{k}={v}")).collect(),
        cwd,
        uid,
        gid,
        additional_gids,
        mounts: p.mounts,
        resources: resources(c),
        security: security(p.pod, c),
        log_path: p.log_path,
        log_max_size: LOG_MAX_SIZE,
        log_max_files: LOG_MAX_FILES,
        tty: c.tty.unwrap_or(false),
        stdin: c.stdin.unwrap_or(false),
        stdin_once: c.stdin_once.unwrap_or(false),
    })
}

/// Upstream's rule: command replaces the entrypoint (and drops the image's cmd); args replace
/// the cmd. Both are `$(VAR)`-expanded with the container's env.
pub fn argv(
    c: &Container,
    image: &rkube_image::ImageConfig,
    vars: &HashMap<&str, &str>,
) -> Vec<String> {
    let command: Vec<String> = c
        .command
        .iter()
        .flatten()
        .map(|a| expand(a, vars))
        .collect();
    let args: Vec<String> = c.args.iter().flatten().map(|a| expand(a, vars)).collect();
    let mut out = if command.is_empty() {
        image.entrypoint.clone()
    } else {
        command.clone()
    };
    if !args.is_empty() {
        out.extend(args);
    } else if command.is_empty() {
        out.extend(image.cmd.iter().cloned());
    }
    out
}

/// runAsUser/runAsGroup (container over pod), else the image's USER: numeric, or looked up in
/// the image's /etc/passwd and /etc/group; root by default.
pub fn user(pod: &Pod, c: &Container, image: &Image) -> Result<(u32, u32), ConfigError> {
    let csc = c.security_context.as_ref();
    let psc = pod.spec.as_ref().and_then(|s| s.security_context.as_ref());
    let run_as_user = csc
        .and_then(|s| s.run_as_user)
        .or_else(|| psc.and_then(|s| s.run_as_user));
    let run_as_group = csc
        .and_then(|s| s.run_as_group)
        .or_else(|| psc.and_then(|s| s.run_as_group));
    let image_user = image.config.user.clone().unwrap_or_default();
    let (u, g) = match image_user.split_once(':') {
        Some((u, g)) => (u.to_string(), Some(g.to_string())),
        None => (image_user.clone(), None),
    };
    let (mut uid, mut gid) = (0u32, 0u32);
    if let Some(x) = run_as_user {
        uid = x as u32;
    } else if !u.is_empty() {
        match u.parse::<u32>() {
            Ok(n) => {
                uid = n;
                gid = lookup(&image.layers, "etc/passwd", |f| f[2] == u, 3).unwrap_or(0);
            }
            Err(_) => {
                uid = lookup(&image.layers, "etc/passwd", |f| f[0] == u, 2).ok_or_else(|| {
                    ConfigError(format!(
                        "unable to find user {u}: no matching entries in passwd file"
                    ))
                })?;
                gid = lookup(&image.layers, "etc/passwd", |f| f[0] == u, 3).unwrap_or(0);
            }
        }
    }
    if let Some(g) = g.filter(|g| !g.is_empty()) {
        gid = match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => lookup(&image.layers, "etc/group", |f| f[0] == g, 2).ok_or_else(|| {
                ConfigError(format!(
                    "unable to find group {g}: no matching entries in group file"
                ))
            })?,
        };
    }
    if let Some(x) = run_as_group {
        gid = x as u32;
    }
    Ok((uid, gid))
}

/// A numeric field of the first matching line of a passwd-style file, looked up from the top
/// layer down.
fn lookup(
    layers: &[PathBuf],
    file: &str,
    matches: impl Fn(&[&str]) -> bool,
    field: usize,
) -> Option<u32> {
    for layer in layers.iter().rev() {
        let Ok(text) = std::fs::read_to_string(layer.join(file)) else {
            continue;
        };
        return text.lines().find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() > field && matches(&f))
                .then(|| f[field].parse().ok())
                .flatten()
        });
    }
    None
}

/// limits.cpu -> CFS quota per 100 ms period; requests.cpu -> shares (1024 per CPU, at least
/// 2); limits.memory -> memory limit.
pub fn resources(c: &Container) -> Resources {
    let res = c.resources.as_ref();
    let q = |m: Option<
        &std::collections::BTreeMap<
            String,
            k8s_openapi::apimachinery::pkg::api::resource::Quantity,
        >,
    >,
             k: &str| { m.and_then(|m| m.get(k)).and_then(|q| parse_quantity(&q.0)) };
    let limits = res.and_then(|r| r.limits.as_ref());
    let requests = res.and_then(|r| r.requests.as_ref());
    let mut out = Resources::default();
    if let Some(cpu) = q(limits, "cpu") {
        let millis = (cpu * 1000.0).ceil() as i64;
        out.cpu_quota = Some((millis * CPU_PERIOD as i64 / 1000).max(1000));
        out.cpu_period = Some(CPU_PERIOD);
    }
    let request = q(requests, "cpu").or(q(limits, "cpu"));
    out.cpu_shares = Some(match request {
        Some(cpu) => (((cpu * 1000.0).ceil() as u64) * 1024 / 1000).max(2),
        None => 2,
    });
    out.memory_limit = q(limits, "memory").map(|m| m as i64);
    out
}

pub fn security(pod: &Pod, c: &Container) -> Security {
    let sc = c.security_context.as_ref();
    let psc = pod.spec.as_ref().and_then(|s| s.security_context.as_ref());
    let caps = sc.and_then(|s| s.capabilities.as_ref());
    let seccomp = sc
        .and_then(|s| s.seccomp_profile.as_ref())
        .or_else(|| psc.and_then(|s| s.seccomp_profile.as_ref()))
        .and_then(|p| match p.type_.as_str() {
            "RuntimeDefault" => Some("RuntimeDefault".to_string()),
            "Localhost" => p.localhost_profile.clone(),
            _ => None,
        });
    Security {
        privileged: sc.and_then(|s| s.privileged).unwrap_or(false),
        cap_add: caps.and_then(|c| c.add.clone()).unwrap_or_default(),
        cap_drop: caps.and_then(|c| c.drop.clone()).unwrap_or_default(),
        read_only_rootfs: sc
            .and_then(|s| s.read_only_root_filesystem)
            .unwrap_or(false),
        no_new_privileges: sc.and_then(|s| s.allow_privilege_escalation) == Some(false),
        seccomp,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn container(v: serde_json::Value) -> Container {
        serde_json::from_value(v).unwrap()
    }

    fn image(entry: &[&str], cmd: &[&str]) -> rkube_image::ImageConfig {
        rkube_image::ImageConfig {
            entrypoint: entry.iter().map(|s| s.to_string()).collect(),
            cmd: cmd.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn argv_merges_like_upstream() {
        let vars = HashMap::from([("X", "1")]);
        let img = image(&["/entry"], &["--default"]);
        let c = container(json!({"name": "c"}));
        assert_eq!(argv(&c, &img, &vars), ["/entry", "--default"]);
        let c = container(json!({"name": "c", "args": ["-v", "$(X)"]}));
        assert_eq!(argv(&c, &img, &vars), ["/entry", "-v", "1"]);
        let c = container(json!({"name": "c", "command": ["sh"]}));
        assert_eq!(argv(&c, &img, &vars), ["sh"]);
        let c = container(json!({"name": "c", "command": ["sh"], "args": ["-c", "$(X)"]}));
        assert_eq!(argv(&c, &img, &vars), ["sh", "-c", "1"]);
    }

    #[test]
    fn resources_map_to_cgroup_values() {
        let c = container(json!({"name": "c", "resources": {
            "limits": {"cpu": "500m", "memory": "32Mi"}, "requests": {"cpu": "250m"}}}));
        let r = resources(&c);
        assert_eq!(r.cpu_quota, Some(50_000));
        assert_eq!(r.cpu_period, Some(100_000));
        assert_eq!(r.cpu_shares, Some(256));
        assert_eq!(r.memory_limit, Some(32 * 1024 * 1024));
        let r = resources(&container(json!({"name": "c"})));
        assert_eq!(
            (r.cpu_quota, r.cpu_shares, r.memory_limit),
            (None, Some(2), None)
        );
    }

    #[test]
    fn users_from_context_image_and_passwd() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        std::fs::write(
            dir.path().join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nwww:x:33:34::/var/www:/bin/false\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("etc/group"), "root:x:0:\nstaff:x:50:\n").unwrap();
        let img = |user: &str| Image {
            id: "sha256:x".into(),
            references: vec![],
            repo_digest: None,
            config: rkube_image::ImageConfig {
                user: Some(user.into()),
                ..Default::default()
            },
            layers: vec![dir.path().to_path_buf()],
            size: 0,
        };
        let pod: Pod =
            serde_json::from_value(json!({"metadata": {}, "spec": {"containers": []}})).unwrap();
        let c = container(json!({"name": "c"}));
        assert_eq!(user(&pod, &c, &img("")).unwrap(), (0, 0));
        assert_eq!(user(&pod, &c, &img("www")).unwrap(), (33, 34));
        assert_eq!(user(&pod, &c, &img("33")).unwrap(), (33, 34));
        assert_eq!(user(&pod, &c, &img("1000:staff")).unwrap(), (1000, 50));
        assert!(user(&pod, &c, &img("nobody")).is_err());
        let c =
            container(json!({"name": "c", "securityContext": {"runAsUser": 7, "runAsGroup": 8}}));
        assert_eq!(user(&pod, &c, &img("www")).unwrap(), (7, 8));
    }
}
