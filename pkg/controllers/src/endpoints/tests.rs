use std::sync::Arc;

use k8s_openapi::{
    api::core::v1::{
        Container, ContainerPort, EndpointAddress, EndpointPort, EndpointSubset, Endpoints, Pod,
        PodCondition, PodIP, PodSpec, PodStatus, Service, ServicePort, ServiceSpec,
    },
    apimachinery::pkg::{apis::meta::v1::Time, util::intstr::IntOrString},
    jiff::Timestamp,
};
use kube::api::ObjectMeta;
use serde_json::json;

use super::*;

pub(crate) fn pod(name: &str, labels: &[(&str, &str)], ip: Option<&str>, ready: bool) -> Arc<Pod> {
    Arc::new(Pod {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("default".into()),
            uid: Some(format!("uid-{name}")),
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            node_name: Some("node-1".into()),
            containers: vec![Container {
                name: "app".into(),
                ports: Some(vec![ContainerPort {
                    name: Some("http".into()),
                    container_port: 8080,
                    protocol: Some("TCP".into()),
                    ..ContainerPort::default()
                }]),
                ..Container::default()
            }],
            ..PodSpec::default()
        }),
        status: Some(PodStatus {
            phase: Some("Running".into()),
            pod_ip: ip.map(str::to_string),
            pod_ips: ip.map(|ip| vec![PodIP { ip: ip.into() }]),
            conditions: Some(vec![PodCondition {
                type_: "Ready".into(),
                status: if ready { "True" } else { "False" }.into(),
                last_transition_time: Some(Time("2025-01-02T03:04:05Z".parse().unwrap())),
                ..PodCondition::default()
            }]),
            ..PodStatus::default()
        }),
    })
}

pub(crate) fn service(name: &str, selector: &[(&str, &str)], ports: Vec<ServicePort>) -> Service {
    Service {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("default".into()),
            uid: Some(format!("uid-{name}")),
            labels: Some([("app".to_string(), name.to_string())].into()),
            creation_timestamp: Some(Time("2025-01-01T00:00:00Z".parse().unwrap())),
            ..ObjectMeta::default()
        },
        spec: Some(ServiceSpec {
            selector: Some(
                selector
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            cluster_ip: Some("10.43.0.10".into()),
            ip_families: Some(vec!["IPv4".into()]),
            ports: Some(ports),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

pub(crate) fn port(name: Option<&str>, port: i32, target: IntOrString) -> ServicePort {
    ServicePort {
        name: name.map(str::to_string),
        port,
        protocol: Some("TCP".into()),
        target_port: Some(target),
        ..ServicePort::default()
    }
}

fn addr(ip: &str, name: &str) -> EndpointAddress {
    serde_json::from_value(json!({"ip": ip, "nodeName": "node-1", "targetRef": {"kind": "Pod", "namespace": "default", "name": name, "uid": format!("uid-{name}")}})).unwrap()
}

#[test]
fn ports_resolve_by_number_or_container_port_name() {
    let p = pod("a", &[], Some("10.0.0.1"), true);
    assert_eq!(
        find_port(&p, &port(None, 80, IntOrString::Int(9090))),
        Some(9090)
    );
    assert_eq!(
        find_port(&p, &port(None, 80, IntOrString::String("http".into()))),
        Some(8080)
    );
    assert_eq!(
        find_port(&p, &port(None, 80, IntOrString::String("nope".into()))),
        None
    );
    let mut udp = port(None, 80, IntOrString::String("http".into()));
    udp.protocol = Some("UDP".into());
    assert_eq!(find_port(&p, &udp), None, "the protocol must match too");
    // A sidecar's named port counts; a plain init container's does not.
    let mut with_sidecar = (*p).clone();
    let spec = with_sidecar.spec.as_mut().unwrap();
    spec.init_containers = Some(vec![
        Container {
            name: "init".into(),
            ports: Some(vec![ContainerPort {
                name: Some("init".into()),
                container_port: 1,
                ..ContainerPort::default()
            }]),
            ..Container::default()
        },
        Container {
            name: "side".into(),
            restart_policy: Some("Always".into()),
            ports: Some(vec![ContainerPort {
                name: Some("metrics".into()),
                container_port: 9100,
                ..ContainerPort::default()
            }]),
            ..Container::default()
        },
    ]);
    assert_eq!(
        find_port(
            &with_sidecar,
            &port(None, 80, IntOrString::String("metrics".into()))
        ),
        Some(9100)
    );
    assert_eq!(
        find_port(
            &with_sidecar,
            &port(None, 80, IntOrString::String("init".into()))
        ),
        None
    );
}

#[test]
fn ready_and_not_ready_pods_are_split() {
    let svc = service(
        "web",
        &[("app", "web")],
        vec![port(Some("http"), 80, IntOrString::String("http".into()))],
    );
    let pods = vec![
        pod("b", &[("app", "web")], Some("10.0.0.2"), true),
        pod("a", &[("app", "web")], Some("10.0.0.10"), true),
        pod("c", &[("app", "web")], Some("10.0.0.3"), false),
        pod("no-ip", &[("app", "web")], None, true),
    ];
    let subsets = desired_subsets(&svc, &pods);
    let want = vec![EndpointSubset {
        addresses: Some(vec![addr("10.0.0.2", "b"), addr("10.0.0.10", "a")]),
        not_ready_addresses: Some(vec![addr("10.0.0.3", "c")]),
        ports: Some(vec![EndpointPort {
            name: Some("http".into()),
            port: 8080,
            protocol: Some("TCP".into()),
            app_protocol: None,
        }]),
    }];
    assert_eq!(subsets, want);

    // publishNotReadyAddresses: every pod with an IP is ready.
    let mut publish = svc.clone();
    publish.spec.as_mut().unwrap().publish_not_ready_addresses = Some(true);
    let subsets = desired_subsets(&publish, &pods);
    assert_eq!(subsets.len(), 1);
    assert_eq!(subsets[0].addresses.as_ref().unwrap().len(), 3);
    assert_eq!(subsets[0].not_ready_addresses, None);
}

#[test]
fn terminating_and_finished_pods_are_skipped() {
    let svc = service(
        "web",
        &[("app", "web")],
        vec![port(None, 80, IntOrString::Int(80))],
    );
    let mut gone = (*pod("gone", &[("app", "web")], Some("10.0.0.5"), true)).clone();
    gone.metadata.deletion_timestamp = Some(Time(Timestamp::now()));
    let mut done = (*pod("done", &[("app", "web")], Some("10.0.0.6"), false)).clone();
    done.status.as_mut().unwrap().phase = Some("Succeeded".into());
    assert!(desired_subsets(&svc, &[Arc::new(gone.clone()), Arc::new(done)]).is_empty());
    // With publishNotReadyAddresses a terminating pod stays.
    let mut publish = svc;
    publish.spec.as_mut().unwrap().publish_not_ready_addresses = Some(true);
    assert_eq!(desired_subsets(&publish, &[Arc::new(gone)]).len(), 1);
}

#[test]
fn pods_resolving_ports_differently_get_separate_subsets() {
    let svc = service(
        "web",
        &[("app", "web")],
        vec![port(None, 80, IntOrString::String("http".into()))],
    );
    let a = pod("a", &[("app", "web")], Some("10.0.0.1"), true);
    let mut b = (*pod("b", &[("app", "web")], Some("10.0.0.2"), true)).clone();
    b.spec.as_mut().unwrap().containers[0]
        .ports
        .as_mut()
        .unwrap()[0]
        .container_port = 9090;
    let subsets = desired_subsets(&svc, &[a, Arc::new(b)]);
    assert_eq!(subsets.len(), 2);
    assert_eq!(subsets[0].ports.as_ref().unwrap()[0].port, 8080);
    assert_eq!(subsets[1].ports.as_ref().unwrap()[0].port, 9090);
}

#[test]
fn multiple_ports_share_one_subset() {
    let svc = service(
        "web",
        &[("app", "web")],
        vec![
            port(Some("a"), 80, IntOrString::Int(80)),
            port(Some("b"), 81, IntOrString::Int(81)),
        ],
    );
    let subsets = desired_subsets(&svc, &[pod("x", &[("app", "web")], Some("10.0.0.1"), true)]);
    assert_eq!(subsets.len(), 1);
    assert_eq!(subsets[0].ports.as_ref().unwrap().len(), 2);
}

#[test]
fn headless_services_without_ports_list_addresses() {
    let mut svc = service("db", &[("app", "db")], vec![]);
    svc.spec.as_mut().unwrap().cluster_ip = Some("None".into());
    let subsets = desired_subsets(&svc, &[pod("x", &[("app", "db")], Some("10.0.0.1"), true)]);
    assert_eq!(subsets.len(), 1);
    assert_eq!(subsets[0].ports, None);
    // A service with a cluster IP and no ports gets nothing.
    let svc = service("db", &[("app", "db")], vec![]);
    assert!(
        desired_subsets(&svc, &[pod("x", &[("app", "db")], Some("10.0.0.1"), true)]).is_empty()
    );
}

#[test]
fn repack_prefers_ready_and_merges_equal_address_sets() {
    let p80 = EndpointPort {
        name: None,
        port: 80,
        protocol: Some("TCP".into()),
        app_protocol: None,
    };
    let subsets = vec![
        EndpointSubset {
            addresses: None,
            not_ready_addresses: Some(vec![addr("10.0.0.1", "a")]),
            ports: Some(vec![p80.clone()]),
        },
        EndpointSubset {
            addresses: Some(vec![addr("10.0.0.1", "a")]),
            not_ready_addresses: None,
            ports: Some(vec![p80.clone()]),
        },
    ];
    let out = repack(subsets);
    assert_eq!(
        out,
        vec![EndpointSubset {
            addresses: Some(vec![addr("10.0.0.1", "a")]),
            not_ready_addresses: None,
            ports: Some(vec![p80])
        }]
    );
}

#[test]
fn plan_creates_then_leaves_equal_objects_alone() {
    let svc = service(
        "web",
        &[("app", "web")],
        vec![port(None, 80, IntOrString::Int(8080))],
    );
    let pods = vec![pod("a", &[("app", "web")], Some("10.0.0.1"), true)];
    let created: Timestamp = "2025-01-01T00:00:00Z".parse().unwrap();
    let (create, ep) = plan(&svc, None, desired_subsets(&svc, &pods), Some(created)).unwrap();
    assert!(create);
    assert_eq!(ep.metadata.name.as_deref(), Some("web"));
    assert_eq!(
        ep.metadata.labels,
        Some([("app".to_string(), "web".to_string())].into())
    );
    assert_eq!(
        ep.metadata.annotations.as_ref().unwrap()[LAST_CHANGE_TRIGGER_TIME],
        "2025-01-01T00:00:00Z"
    );

    // As stored (with pod resourceVersions and empty lists): nothing to write.
    let mut stored: Endpoints = serde_json::from_value(serde_json::to_value(&ep).unwrap()).unwrap();
    stored.metadata.resource_version = Some("5".into());
    let subset = &mut stored.subsets.as_mut().unwrap()[0];
    subset.addresses.as_mut().unwrap()[0]
        .target_ref
        .as_mut()
        .unwrap()
        .resource_version = Some("77".into());
    subset.not_ready_addresses = Some(vec![]);
    assert!(plan(&svc, Some(&stored), desired_subsets(&svc, &pods), None).is_none());

    // A pod leaving: replace, keeping the object's metadata.
    let (create, ep) = plan(&svc, Some(&stored), desired_subsets(&svc, &[]), None).unwrap();
    assert!(!create);
    assert_eq!(ep.subsets, None);
    assert_eq!(ep.metadata.resource_version.as_deref(), Some("5"));
    assert!(!ep.annotations().contains_key(LAST_CHANGE_TRIGGER_TIME));

    // A label change on the service alone is written too.
    let mut relabelled = svc.clone();
    relabelled.metadata.labels = Some([("tier".to_string(), "front".to_string())].into());
    assert!(plan(
        &relabelled,
        Some(&stored),
        desired_subsets(&relabelled, &pods),
        None
    )
    .is_some());
}

#[test]
fn headless_services_get_the_headless_label() {
    let mut svc = service(
        "db",
        &[("app", "db")],
        vec![port(None, 5432, IntOrString::Int(5432))],
    );
    svc.spec.as_mut().unwrap().cluster_ip = Some("None".into());
    let (_, ep) = plan(&svc, None, vec![], None).unwrap();
    assert_eq!(ep.labels().get(HEADLESS).map(String::as_str), Some(""));
    // ...which the comparison ignores.
    assert!(plan(&svc, Some(&ep), vec![], None).is_none());
}

#[test]
fn over_capacity_endpoints_are_truncated() {
    let addrs: Vec<EndpointAddress> = (0..1200)
        .map(|i| addr(&format!("10.1.{}.{}", i / 250, i % 250), &format!("p{i}")))
        .collect();
    let full = vec![
        EndpointSubset {
            addresses: Some(addrs[..900].to_vec()),
            not_ready_addresses: Some(addrs[900..1000].to_vec()),
            ports: None,
        },
        EndpointSubset {
            addresses: Some(addrs[1000..].to_vec()),
            not_ready_addresses: None,
            ports: None,
        },
    ];
    let mut subsets = full.clone();
    assert!(truncate(&mut subsets));
    let ready: usize = subsets
        .iter()
        .map(|s| s.addresses.as_ref().map_or(0, Vec::len))
        .sum();
    let not_ready: usize = subsets
        .iter()
        .map(|s| s.not_ready_addresses.as_ref().map_or(0, Vec::len))
        .sum();
    assert_eq!((ready, not_ready), (1000, 0));
    let svc = service("big", &[("app", "big")], vec![]);
    let (_, ep) = plan(&svc, None, full.clone(), None).unwrap();
    assert_eq!(
        ep.annotations().get(OVER_CAPACITY).map(String::as_str),
        Some("truncated")
    );
    assert_eq!(ep.subsets.as_ref(), Some(&subsets));
    // Stored truncated: the same input is not written again.
    assert!(plan(&svc, Some(&ep), full, None).is_none());
}

#[test]
fn trigger_time_is_the_earliest_unexported_change() {
    let svc = service("web", &[("app", "web")], vec![]);
    let mut tracker = TriggerTimeTracker::default();
    let pods = vec![pod("a", &[("app", "web")], Some("10.0.0.1"), true)];
    let created: Timestamp = "2025-01-01T00:00:00Z".parse().unwrap();
    // First sight of a service: its creation.
    assert_eq!(tracker.compute(&svc, &pods), Some(created));
    // Nothing new since: no trigger time.
    assert_eq!(tracker.compute(&svc, &pods), None);
    // A pod became ready later: its transition time.
    let mut later = (*pods[0]).clone();
    let t: Timestamp = "2025-02-01T00:00:00Z".parse().unwrap();
    later.status.as_mut().unwrap().conditions.as_mut().unwrap()[0].last_transition_time =
        Some(Time(t));
    assert_eq!(tracker.compute(&svc, &[Arc::new(later)]), Some(t));
    assert_eq!(rfc3339(t), "2025-02-01T00:00:00Z");
}

#[test]
fn selection_follows_the_selector() {
    let svc = service("web", &[("app", "web")], vec![]);
    let sel = managed_selector(&svc).unwrap();
    assert!(selects(
        sel,
        &pod("a", &[("app", "web"), ("x", "y")], None, true)
    ));
    assert!(!selects(sel, &pod("b", &[("app", "db")], None, true)));
    let mut external = svc.clone();
    external.spec.as_mut().unwrap().type_ = Some("ExternalName".into());
    assert!(managed_selector(&external).is_none());
    let mut no_selector = svc;
    no_selector.spec.as_mut().unwrap().selector = None;
    assert!(managed_selector(&no_selector).is_none());
}
