use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn endpoints_list_the_addresses_on_the_port_and_skip_mirroring() {
    let ep = endpoints(None, &[ip("10.0.0.1"), ip("10.0.0.2")], 6443).unwrap();
    assert_eq!(ep.metadata.name.as_deref(), Some("kubernetes"));
    assert_eq!(ep.metadata.namespace.as_deref(), Some("default"));
    assert_eq!(
        ep.metadata.labels.as_ref().unwrap()["endpointslice.kubernetes.io/skip-mirror"],
        "true"
    );
    let subsets = ep.subsets.as_ref().unwrap();
    assert_eq!(subsets.len(), 1);
    let ips: Vec<_> = subsets[0]
        .addresses
        .as_ref()
        .unwrap()
        .iter()
        .map(|a| a.ip.as_str())
        .collect();
    assert_eq!(ips, ["10.0.0.1", "10.0.0.2"]);
    let port = &subsets[0].ports.as_ref().unwrap()[0];
    assert_eq!(
        (port.name.as_deref(), port.port, port.protocol.as_deref()),
        (Some("https"), 6443, Some("TCP"))
    );
    // Already right: nothing to write.
    assert_eq!(
        endpoints(Some(&ep), &[ip("10.0.0.1"), ip("10.0.0.2")], 6443),
        None
    );
}

#[test]
fn endpoints_follow_a_new_address_or_port_and_lose_foreign_labels() {
    let mut ep = endpoints(None, &[ip("10.0.0.1")], 6443).unwrap();
    ep.metadata.resource_version = Some("7".into());
    ep.metadata
        .labels
        .as_mut()
        .unwrap()
        .insert("extra".into(), "x".into());
    let fixed = endpoints(Some(&ep), &[ip("10.0.0.1")], 6443).unwrap();
    assert_eq!(fixed.metadata.labels.as_ref().unwrap().len(), 1);
    // The update keeps the resourceVersion: a concurrent change conflicts instead of being lost.
    assert_eq!(fixed.metadata.resource_version.as_deref(), Some("7"));
    let moved = endpoints(Some(&fixed), &[ip("10.0.0.9")], 7443).unwrap();
    let subset = &moved.subsets.as_ref().unwrap()[0];
    assert_eq!(subset.addresses.as_ref().unwrap()[0].ip, "10.0.0.9");
    assert_eq!(subset.ports.as_ref().unwrap()[0].port, 7443);
}

#[test]
fn slice_is_labelled_with_the_service_and_lists_ready_endpoints() {
    let s = endpoint_slice(None, "IPv4", &[ip("10.0.0.1")], 6443).unwrap();
    assert_eq!(s.metadata.name.as_deref(), Some("kubernetes"));
    assert_eq!(
        s.metadata.labels.as_ref().unwrap(),
        &BTreeMap::from([("kubernetes.io/service-name".into(), "kubernetes".into())])
    );
    assert_eq!(s.address_type, "IPv4");
    assert_eq!(s.endpoints.len(), 1);
    assert_eq!(s.endpoints[0].addresses, ["10.0.0.1"]);
    assert_eq!(
        s.endpoints[0].conditions.as_ref().unwrap().ready,
        Some(true)
    );
    let p = &s.ports.as_ref().unwrap()[0];
    assert_eq!(
        (p.name.as_deref(), p.port, p.protocol.as_deref()),
        (Some("https"), Some(6443), Some("TCP"))
    );
    assert_eq!(
        endpoint_slice(Some(&s), "IPv4", &[ip("10.0.0.1")], 6443),
        None
    );
    let moved = endpoint_slice(Some(&s), "IPv4", &[ip("10.0.0.1")], 7443).unwrap();
    assert_eq!(moved.ports.as_ref().unwrap()[0].port, Some(7443));
    assert_eq!(slice_selector(), "kubernetes.io/service-name=kubernetes");
}

#[test]
fn service_target_port_follows_the_secure_port() {
    let svc = service(ip("10.43.0.1"), 6443);
    let spec = svc.spec.as_ref().unwrap();
    assert_eq!(spec.cluster_ip.as_deref(), Some("10.43.0.1"));
    assert_eq!(spec.type_.as_deref(), Some("ClusterIP"));
    let p = &spec.ports.as_ref().unwrap()[0];
    assert_eq!((p.name.as_deref(), p.port), (Some("https"), 443));
    assert_eq!(p.target_port, Some(IntOrString::Int(6443)));
    assert_eq!(service_update(&svc, 6443), None);
    let moved = service_update(&svc, 7443).unwrap();
    let p = &moved.spec.as_ref().unwrap().ports.as_ref().unwrap()[0];
    assert_eq!(p.target_port, Some(IntOrString::Int(7443)));
    // Fields the server defaulted on the port are not a difference.
    let mut defaulted = svc.clone();
    defaulted.spec.as_mut().unwrap().ports.as_mut().unwrap()[0].app_protocol = Some("x".into());
    assert_eq!(service_update(&defaulted, 6443), None);
}
