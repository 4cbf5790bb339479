//! The Service proxy against the real kernel (root; this machine and CI): incremental syncs are
//! accepted, leave the same table a full sync of the final state makes, and keep the affinity set
//! elements of services that stayed. The tables are removed by a Drop guard, also on failure.

use std::{
    io::Write,
    process::{Command, Stdio},
};

use k8s_openapi::api::{core::v1::Service, discovery::v1::EndpointSlice};
use rkube_network::proxy::{self, Proxier, ProxyConfig};
use serde_json::{json, Value};

fn svc(name: &str, ip: &str, extra: Value) -> Service {
    let mut s = json!({
        "metadata": {"namespace": "ns", "name": name},
        "spec": {"clusterIP": ip, "sessionAffinity": "ClientIP", "ports": [
            {"name": "http", "port": 80, "targetPort": "web", "protocol": "TCP"}
        ]}
    });
    for (k, v) in extra.as_object().unwrap() {
        s["spec"][k] = v.clone();
    }
    serde_json::from_value(s).unwrap()
}

fn slice(service: &str, ips: &[&str]) -> EndpointSlice {
    serde_json::from_value(json!({
        "metadata": {"namespace": "ns", "name": format!("{service}-abc"),
                     "labels": {"kubernetes.io/service-name": service}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        "endpoints": ips.iter().map(|ip| json!({"addresses": [ip], "nodeName": "n1"}))
            .collect::<Vec<_>>()
    }))
    .unwrap()
}

fn cfg(bridge: &str) -> ProxyConfig {
    ProxyConfig {
        bridge: bridge.into(),
        node_name: "n1".into(),
        cluster_cidr: "10.42.0.0/16".parse().unwrap(),
    }
}

/// Removes the proxy tables of these bridges whatever happened.
struct Tables(Vec<String>);

impl Drop for Tables {
    fn drop(&mut self) {
        for b in &self.0 {
            let _ = Command::new("nft")
                .args(["delete", "table", "ip", &proxy::table_name(b)])
                .output();
        }
    }
}

fn nft_json(doc: &Value) {
    let mut child = Command::new("nft")
        .args(["-j", "-f", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(doc.to_string().as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success(), "nft -j -f - {doc}");
}

/// `nft -j list table`, without handles, metainfo, the table's and bridge's names, with every object and rule in a stable order: comparable across tables.
fn listing(bridge: &str) -> Vec<String> {
    let table = proxy::table_name(bridge);
    let out = Command::new("nft")
        .args(["-j", "list", "table", "ip", &table])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut items: Vec<String> = doc["nftables"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o.get("metainfo").is_none() && o.get("table").is_none())
        .map(|o| {
            let mut o = o.clone();
            let body = o.as_object_mut().unwrap().values_mut().next().unwrap();
            let body = body.as_object_mut().unwrap();
            body.remove("handle");
            body.remove("table");
            if let Some(elems) = body.get_mut("elem").and_then(Value::as_array_mut) {
                elems.sort_by_key(Value::to_string);
            }
            o.to_string()
                .replace(&format!("\"{bridge}\""), "\"BRIDGE\"")
        })
        .collect();
    items.sort();
    items
}

fn affinity_elements(bridge: &str, set: &str) -> Vec<String> {
    listing(bridge)
        .into_iter()
        .filter_map(|o| {
            let o: Value = serde_json::from_str(&o).unwrap();
            let s = o.get("set")?;
            (s["name"] == set).then(|| {
                s["elem"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|e| e["elem"]["val"].as_str().unwrap_or_default().to_string())
                    .collect::<Vec<_>>()
            })
        })
        .flatten()
        .collect()
}

#[tokio::test]
async fn incremental_syncs_match_a_full_sync_and_keep_untouched_affinity() {
    let tag = std::process::id() % 100_000;
    let (inc, full) = (format!("rkpi{tag}"), format!("rkpf{tag}"));
    let _tables = Tables(vec![inc.clone(), full.clone()]);
    let np = json!({"type": "NodePort", "ports": [
        {"name": "http", "port": 80, "targetPort": 8080, "nodePort": 30080}]});
    let mut svcs = vec![
        svc("a", "10.43.0.20", json!({})),
        svc("b", "10.43.0.21", json!({})),
        svc("c", "10.43.0.22", np.clone()),
    ];
    let mut slices = vec![
        slice("a", &["10.42.0.5", "10.42.0.6"]),
        slice("b", &["10.42.0.7"]),
        slice("c", &[]),
    ];
    let mut proxier = Proxier::new(cfg(&inc));
    let first = proxier.sync(&svcs, &slices).await.unwrap();
    assert!(first.full && first.service_ports == 3);

    // A client made sticky to a's first endpoint.
    let aff_a = "aff-ns/a/tcp/http__10.42.0.5/8080";
    nft_json(&json!({"nftables": [{"add": {"element": {
        "family": "ip", "table": proxy::table_name(&inc), "name": aff_a,
        "elem": ["192.0.2.77"]}}}]}));
    assert_eq!(affinity_elements(&inc, aff_a), ["192.0.2.77"]);

    // Unrelated changes: b gains an endpoint, c gets its first one, d appears.
    slices[1] = slice("b", &["10.42.0.7", "10.42.0.8"]);
    slices[2] = slice("c", &["10.42.0.9"]);
    svcs.push(svc("d", "10.43.0.23", json!({})));
    slices.push(slice("d", &["10.42.0.10"]));
    let s = proxier.sync(&svcs, &slices).await.unwrap();
    assert_eq!((s.full, s.changed), (false, 3), "{s:?}");
    assert_eq!(affinity_elements(&inc, aff_a), ["192.0.2.77"]);

    // a itself changes, but its sticky endpoint remains: the client stays sticky.
    slices[0] = slice("a", &["10.42.0.5", "10.42.0.11"]);
    let s = proxier.sync(&svcs, &slices).await.unwrap();
    assert_eq!((s.full, s.changed), (false, 1), "{s:?}");
    assert_eq!(affinity_elements(&inc, aff_a), ["192.0.2.77"]);

    // A removed Service, an emptied one, a new affinity timeout, a new clusterIP.
    svcs.retain(|s| s.metadata.name.as_deref() != Some("d"));
    slices[1] = slice("b", &[]);
    svcs[2] = svc(
        "c",
        "10.43.0.32",
        json!({"type": "NodePort", "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}},
               "ports": np["ports"]}),
    );
    let s = proxier.sync(&svcs, &slices).await.unwrap();
    assert_eq!((s.full, s.changed), (false, 3), "{s:?}");
    // Nothing changed: nothing sent.
    let s = proxier.sync(&svcs, &slices).await.unwrap();
    assert_eq!((s.changed, s.commands), (0, 0));

    let after_increments = listing(&inc);
    let mut fresh = Proxier::new(cfg(&full));
    fresh.sync(&svcs, &slices).await.unwrap();
    let mut expected = listing(&full);
    // The one difference allowed: the sticky client.
    for o in &mut expected {
        if o.contains(&format!(r#""name":"{aff_a}""#)) {
            let mut v: Value = serde_json::from_str(o).unwrap();
            let elem = after_increments
                .iter()
                .find(|x| x.contains(&format!(r#""name":"{aff_a}""#)))
                .and_then(|x| serde_json::from_str::<Value>(x).ok())
                .map(|x| x["set"]["elem"].clone())
                .unwrap();
            v["set"]["elem"] = elem;
            *o = v.to_string();
        }
    }
    expected.sort();
    let only_inc: Vec<&String> = after_increments
        .iter()
        .filter(|x| !expected.contains(x))
        .collect();
    let only_full: Vec<&String> = expected
        .iter()
        .filter(|x| !after_increments.contains(x))
        .collect();
    assert!(
        only_inc.is_empty() && only_full.is_empty(),
        "only after the increments: {only_inc:#?}\nonly in a full sync: {only_full:#?}"
    );
    let text = after_increments.join("\n");
    assert!(
        !text.contains("ns/d/") && !text.contains("10.42.0.6"),
        "{text}"
    );
    assert!(text.contains("10.43.0.32") && !text.contains("10.43.0.22"));

    // Removal leaves nothing behind.
    proxy::delete(&inc).await.unwrap();
    let gone = Command::new("nft")
        .args(["list", "table", "ip", &proxy::table_name(&inc)])
        .output()
        .unwrap();
    assert!(!gone.status.success(), "the table is removed");
}
