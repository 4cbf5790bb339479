use std::sync::Arc;

use k8s_openapi::{
    api::{core::v1::Pod, discovery::v1::EndpointSlice},
    apimachinery::pkg::{apis::meta::v1::Time, util::intstr::IntOrString},
    jiff::Timestamp,
};

use super::*;
use crate::endpoints::tests::{pod, port, service};

fn nodes(name: &str) -> Option<Option<String>> {
    (name == "node-1").then(|| Some("zone-a".to_string()))
}

/// What the server would hand back after creating `s` as `name`.
fn stored(mut s: EndpointSlice, name: &str) -> EndpointSlice {
    s.metadata.name = Some(name.into());
    s.metadata.resource_version = Some("1".into());
    s
}

fn web() -> Service {
    service(
        "web",
        &[("app", "web")],
        vec![port(Some("http"), 80, IntOrString::String("http".into()))],
    )
}

fn pods(n: usize) -> Vec<Arc<Pod>> {
    (0..n)
        .map(|i| {
            pod(
                &format!("p{i:03}"),
                &[("app", "web")],
                Some(&format!("10.0.{}.{}", i / 200, i % 200 + 1)),
                i % 2 == 0,
            )
        })
        .collect()
}

#[test]
fn a_new_service_gets_one_slice_with_every_endpoint() {
    let svc = web();
    let plan = plan(&svc, &pods(3), nodes, &[], MAX_ENDPOINTS_PER_SLICE);
    assert_eq!(
        (
            plan.create.len(),
            plan.update.len(),
            plan.delete.len(),
            plan.skipped
        ),
        (1, 0, 0, 0)
    );
    let s = &plan.create[0];
    assert_eq!(s.metadata.generate_name.as_deref(), Some("web-"));
    assert_eq!(s.address_type, "IPv4");
    assert_eq!(s.labels()[SERVICE_NAME_LABEL], "web");
    assert_eq!(s.labels()[MANAGED_BY_LABEL], CONTROLLER_NAME);
    assert_eq!(s.labels()["app"], "web");
    let owner = &s.owner_references()[0];
    assert_eq!(
        (
            owner.kind.as_str(),
            owner.uid.as_str(),
            owner.controller,
            owner.block_owner_deletion
        ),
        ("Service", "uid-web", Some(true), Some(true))
    );
    let ports = s.ports.as_ref().unwrap();
    assert_eq!(
        (
            ports[0].name.as_deref(),
            ports[0].port,
            ports[0].protocol.as_deref()
        ),
        (Some("http"), Some(8080), Some("TCP"))
    );
    assert_eq!(s.endpoints.len(), 3);
    let e = &s.endpoints[1];
    assert_eq!(e.addresses, vec!["10.0.0.2".to_string()]);
    let c = e.conditions.as_ref().unwrap();
    assert_eq!(
        (c.ready, c.serving, c.terminating),
        (Some(false), Some(false), Some(false))
    );
    assert_eq!(e.node_name.as_deref(), Some("node-1"));
    assert_eq!(e.zone.as_deref(), Some("zone-a"));
    assert_eq!(e.target_ref.as_ref().unwrap().name.as_deref(), Some("p001"));
}

#[test]
fn nothing_changes_nothing_is_written() {
    let svc = web();
    let first = plan(&svc, &pods(3), nodes, &[], MAX_ENDPOINTS_PER_SLICE);
    let existing = vec![stored(first.create[0].clone(), "web-abcde")];
    let again = plan(&svc, &pods(3), nodes, &existing, MAX_ENDPOINTS_PER_SLICE);
    assert!(again.is_empty(), "{again:?}");
    // Nor when only the pods' resourceVersions differ.
    let mut with_rv = existing.clone();
    for e in &mut with_rv[0].endpoints {
        e.target_ref.as_mut().unwrap().resource_version = Some("42".into());
    }
    assert!(plan(&svc, &pods(3), nodes, &with_rv, MAX_ENDPOINTS_PER_SLICE).is_empty());
}

#[test]
fn changes_update_the_slice_in_place() {
    let svc = web();
    let first = plan(&svc, &pods(3), nodes, &[], MAX_ENDPOINTS_PER_SLICE);
    let existing = vec![stored(first.create[0].clone(), "web-abcde")];
    // p001 becomes ready, p002 goes, p003 comes.
    let mut now = pods(4);
    now.remove(2);
    let mut p1 = (*now[1]).clone();
    p1.status.as_mut().unwrap().conditions.as_mut().unwrap()[0].status = "True".into();
    now[1] = Arc::new(p1);
    let plan = plan(&svc, &now, nodes, &existing, MAX_ENDPOINTS_PER_SLICE);
    assert_eq!(
        (plan.create.len(), plan.update.len(), plan.delete.len()),
        (0, 1, 0)
    );
    let s = &plan.update[0];
    assert_eq!(s.metadata.name.as_deref(), Some("web-abcde"));
    assert_eq!(s.metadata.resource_version.as_deref(), Some("1"));
    let names: Vec<&str> = s
        .endpoints
        .iter()
        .map(|e| e.target_ref.as_ref().unwrap().name.as_deref().unwrap())
        .collect();
    assert_eq!(names, vec!["p000", "p001", "p003"]);
    assert_eq!(
        s.endpoints[1].conditions.as_ref().unwrap().ready,
        Some(true)
    );
}

#[test]
fn terminating_pods_stay_with_conditions() {
    let svc = web();
    let mut p = (*pods(1)[0]).clone();
    p.metadata.deletion_timestamp = Some(Time(Timestamp::now()));
    let plan = plan(&svc, &[Arc::new(p)], nodes, &[], MAX_ENDPOINTS_PER_SLICE);
    let c = plan.create[0].endpoints[0].conditions.clone().unwrap();
    assert_eq!(
        (c.ready, c.serving, c.terminating),
        (Some(false), Some(true), Some(true))
    );
}

#[test]
fn many_endpoints_are_spread_over_slices() {
    let svc = web();
    let plan = plan(&svc, &pods(250), nodes, &[], MAX_ENDPOINTS_PER_SLICE);
    let sizes: Vec<usize> = plan.create.iter().map(|s| s.endpoints.len()).collect();
    assert_eq!(sizes, vec![100, 100, 50]);
}

#[test]
fn no_endpoints_means_one_placeholder_kept_as_is() {
    let svc = web();
    let plan1 = plan(&svc, &[], nodes, &[], MAX_ENDPOINTS_PER_SLICE);
    assert_eq!(plan1.create.len(), 1);
    assert!(plan1.create[0].endpoints.is_empty() && plan1.create[0].ports.is_none());
    let existing = vec![stored(plan1.create[0].clone(), "web-p")];
    assert!(plan(&svc, &[], nodes, &existing, MAX_ENDPOINTS_PER_SLICE).is_empty());
    // Endpoints appear: the placeholder is reused rather than deleted and recreated.
    let plan2 = plan(&svc, &pods(2), nodes, &existing, MAX_ENDPOINTS_PER_SLICE);
    assert_eq!(
        (plan2.create.len(), plan2.update.len(), plan2.delete.len()),
        (0, 1, 0)
    );
    assert_eq!(plan2.update[0].metadata.name.as_deref(), Some("web-p"));
    assert_eq!(plan2.update[0].endpoints.len(), 2);
    // And they all go: back to a placeholder, by reusing the slice.
    let existing = vec![stored(plan2.update[0].clone(), "web-p")];
    let plan3 = plan(&svc, &[], nodes, &existing, MAX_ENDPOINTS_PER_SLICE);
    assert_eq!(
        (plan3.create.len(), plan3.update.len(), plan3.delete.len()),
        (0, 1, 0)
    );
    assert!(plan3.update[0].endpoints.is_empty() && plan3.update[0].ports.is_none());
}

#[test]
fn pods_on_missing_nodes_are_skipped() {
    let svc = web();
    let mut p = (*pods(1)[0]).clone();
    p.spec.as_mut().unwrap().node_name = Some("ghost".into());
    let plan = plan(&svc, &[Arc::new(p)], nodes, &[], MAX_ENDPOINTS_PER_SLICE);
    assert_eq!(plan.skipped, 1);
    assert!(plan.create[0].endpoints.is_empty());
}

#[test]
fn slices_of_other_owners_or_families_are_deleted() {
    let svc = web();
    let first = plan(&svc, &pods(1), nodes, &[], MAX_ENDPOINTS_PER_SLICE);
    let mine = stored(first.create[0].clone(), "web-a");
    let mut foreign = stored(first.create[0].clone(), "web-b");
    foreign.metadata.owner_references.as_mut().unwrap()[0].uid = "old-uid".into();
    let mut v6 = stored(first.create[0].clone(), "web-c");
    v6.address_type = "IPv6".into();
    let plan = plan(
        &svc,
        &pods(1),
        nodes,
        &[mine, foreign, v6],
        MAX_ENDPOINTS_PER_SLICE,
    );
    let deleted: Vec<&str> = plan
        .delete
        .iter()
        .map(|s| s.metadata.name.as_deref().unwrap())
        .collect();
    assert_eq!(deleted, vec!["web-c", "web-b"]);
    assert!(plan.create.is_empty() && plan.update.is_empty());
}

#[test]
fn service_label_changes_reach_the_slices() {
    let svc = web();
    let first = plan(&svc, &pods(1), nodes, &[], MAX_ENDPOINTS_PER_SLICE);
    let existing = vec![stored(first.create[0].clone(), "web-a")];
    let mut relabelled = svc.clone();
    relabelled.metadata.labels = Some([("tier".to_string(), "front".to_string())].into());
    let plan = plan(
        &relabelled,
        &pods(1),
        nodes,
        &existing,
        MAX_ENDPOINTS_PER_SLICE,
    );
    assert_eq!(plan.update.len(), 1);
    assert_eq!(
        plan.update[0].labels().get("tier").map(String::as_str),
        Some("front")
    );
    assert!(!plan.update[0].labels().contains_key("app"));
}

#[test]
fn headless_services_are_marked_and_families_default_to_both() {
    let mut svc = web();
    let spec = svc.spec.as_mut().unwrap();
    spec.cluster_ip = Some("None".into());
    spec.ip_families = None;
    assert_eq!(
        address_types(&svc).into_iter().collect::<Vec<_>>(),
        vec!["IPv4", "IPv6"]
    );
    let plan = plan(&svc, &pods(1), nodes, &[], MAX_ENDPOINTS_PER_SLICE);
    // An IPv4 slice with the endpoint, an IPv6 placeholder.
    assert_eq!(plan.create.len(), 2);
    assert!(plan
        .create
        .iter()
        .all(|s| s.labels().get(HEADLESS).is_some()));
}
