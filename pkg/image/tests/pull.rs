//! Pulls from a real docker-registry through a docker.io mirror (registries.yaml).

mod common;

use std::time::Instant;

use common::TestRegistry;
use rkube_image::{Error, ImageService, PullPolicy, RegistriesConfig};

fn service(reg: &TestRegistry, root: &std::path::Path) -> ImageService {
    let cfg = RegistriesConfig::parse(&reg.registries_yaml()).unwrap();
    ImageService::open(root, cfg).unwrap()
}

fn manifest_gets(reg: &TestRegistry) -> usize {
    reg.gets("/v2/library/busybox/manifests/1.36")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_through_docker_io_mirror_then_if_not_present_and_restart() {
    let reg = TestRegistry::start();
    let root = tempfile::tempdir().unwrap();
    let svc = service(&reg, root.path());

    let started = Instant::now();
    let (image, report) = svc
        .ensure("busybox:1.36", PullPolicy::IfNotPresent, &[])
        .await
        .unwrap();
    let elapsed = started.elapsed();
    let report = report.expect("first ensure pulls");
    eprintln!(
        "pulled busybox:1.36 from the loopback registry in {elapsed:?} ({} bytes, report {:?})",
        report.bytes, report.duration
    );
    assert!(report.bytes > 500_000, "{report:?}");
    assert_eq!(image.references, vec!["docker.io/library/busybox:1.36"]);
    assert!(image.id.starts_with("sha256:"));
    assert!(image
        .repo_digest
        .as_deref()
        .unwrap()
        .starts_with("docker.io/library/busybox@sha256:"));
    assert_eq!(image.config.cmd, vec!["sh"]);
    assert!(image.config.env.iter().any(|e| e.starts_with("PATH=")));
    assert_eq!(image.layers.len(), 1);
    let rootfs = &image.layers[0];
    let busybox = std::fs::metadata(rootfs.join("bin/busybox")).unwrap();
    assert!(busybox.len() > 500_000);
    assert_eq!(
        std::fs::read_link(rootfs.join("bin/sh")).unwrap(),
        std::path::Path::new("busybox")
    );
    assert!(std::fs::read_to_string(rootfs.join("etc/passwd"))
        .unwrap()
        .contains("nobody:x:65534"));
    let pulls = manifest_gets(&reg);
    assert!(pulls >= 1);

    // IfNotPresent with the image present: no registry traffic, no report.
    let (again, report) = svc
        .ensure(
            "docker.io/library/busybox:1.36",
            PullPolicy::IfNotPresent,
            &[],
        )
        .await
        .unwrap();
    assert!(report.is_none());
    assert_eq!(again.id, image.id);
    assert_eq!(manifest_gets(&reg), pulls);

    // Never with the image present is fine too.
    let (_, report) = svc
        .ensure("busybox:1.36", PullPolicy::Never, &[])
        .await
        .unwrap();
    assert!(report.is_none());

    // Always asks the registry again but downloads no blob it has.
    let layer_gets = blob_gets(&reg);
    let (_, report) = svc
        .ensure("busybox:1.36", PullPolicy::Always, &[])
        .await
        .unwrap();
    assert_eq!(report.unwrap().bytes, 0);
    assert!(manifest_gets(&reg) > pulls);
    assert_eq!(blob_gets(&reg), layer_gets);

    // A restarted service finds it in its index, by reference, by ID and by repo digest.
    drop(svc);
    let svc = service(&reg, root.path());
    let found = svc.get("busybox:1.36").unwrap().expect("survives restart");
    assert_eq!(found.id, image.id);
    assert_eq!(found.layers, image.layers);
    assert_eq!(svc.get(&image.id).unwrap().unwrap().id, image.id);
    let by_digest = image.repo_digest.clone().unwrap();
    assert_eq!(svc.get(&by_digest).unwrap().unwrap().id, image.id);
    assert_eq!(svc.list().unwrap().len(), 1);

    // Removing the last reference removes the image and its layers.
    svc.remove("busybox:1.36").unwrap();
    assert!(svc.get("busybox:1.36").unwrap().is_none());
    assert!(!rootfs.exists());
    assert!(matches!(
        svc.remove("busybox:1.36"),
        Err(Error::NotFound(_))
    ));
}

fn blob_gets(reg: &TestRegistry) -> usize {
    reg.log()
        .lines()
        .filter(|l| l.contains("\"GET /v2/library/busybox/blobs/sha256:") && l.contains("\" 200 "))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_ensures_download_once() {
    let reg = TestRegistry::start();
    let root = tempfile::tempdir().unwrap();
    let svc = service(&reg, root.path());
    let (a, b) = tokio::join!(
        svc.ensure("busybox:1.36", PullPolicy::IfNotPresent, &[]),
        svc.ensure("docker.io/library/busybox:1.36", PullPolicy::Always, &[]),
    );
    let (a, ra) = a.unwrap();
    let (b, rb) = b.unwrap();
    assert_eq!(a.id, b.id);
    assert_eq!(
        ra.is_some() as u8 + rb.is_some() as u8,
        1,
        "one of them pulled, the other waited for it"
    );
    // Config and layer: each fetched once.
    assert_eq!(blob_gets(&reg), 2, "{}", reg.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_missing_tag_and_unreachable_registry() {
    let reg = TestRegistry::start();
    let root = tempfile::tempdir().unwrap();
    let svc = service(&reg, root.path());

    let err = svc
        .ensure("busybox:1.36", PullPolicy::Never, &[])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NeverPull(_)), "{err}");

    let err = svc
        .ensure("busybox:nope", PullPolicy::IfNotPresent, &[])
        .await
        .unwrap_err();
    let text = err.to_string();
    eprintln!("missing tag: {text}");
    assert!(matches!(err, Error::Pull { .. }));
    assert!(
        text.starts_with("failed to pull image \"busybox:nope\": "),
        "{text}"
    );
    assert!(text.contains("manifest unknown"), "{text}");
    assert!(text.contains(&format!("http://{}", reg.addr())), "{text}");

    let err = svc
        .ensure("Not A Reference", PullPolicy::Always, &[])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidReference(_)), "{err}");

    // A registry that is not listening: the message names it and says why.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let err = svc
        .ensure(
            &format!("127.0.0.1:{port}/x/y:1"),
            PullPolicy::IfNotPresent,
            &[],
        )
        .await
        .unwrap_err()
        .to_string();
    eprintln!("unreachable: {err}");
    assert!(
        err.contains(&format!("cannot connect to http://127.0.0.1:{port}"))
            && err.contains("connection refused"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_schema2_manifest_and_pull_by_digest() {
    let reg = TestRegistry::start();
    let work = tempfile::tempdir().unwrap();
    let oci = work.path().join("bb.tar");
    reg.push("oci", Some(&oci));
    // The same image with Docker media types (manifest v2 schema 2, gzip layer).
    let out = std::process::Command::new("skopeo")
        .args([
            "copy",
            "--quiet",
            "--dest-tls-verify=false",
            "--format",
            "v2s2",
        ])
        .arg(format!("oci-archive:{}", oci.display()))
        .arg(format!("docker://{}/library/busybox:v2s2", reg.addr()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let root = tempfile::tempdir().unwrap();
    let svc = service(&reg, root.path());
    let (image, report) = svc
        .ensure("busybox:v2s2", PullPolicy::IfNotPresent, &[])
        .await
        .unwrap();
    assert!(report.is_some());
    assert_eq!(image.config.cmd, vec!["sh"]);
    assert!(image.layers[0].join("bin/busybox").is_file());

    // By digest: present already (same repo digest), so IfNotPresent does not pull.
    let by_digest = image.repo_digest.clone().unwrap();
    let (same, report) = svc
        .ensure(&by_digest, PullPolicy::IfNotPresent, &[])
        .await
        .unwrap();
    assert!(report.is_none());
    assert_eq!(same.id, image.id);
    // And pulled by digest into a fresh store.
    let root2 = tempfile::tempdir().unwrap();
    let svc2 = service(&reg, root2.path());
    let (fresh, report) = svc2
        .ensure(&by_digest, PullPolicy::IfNotPresent, &[])
        .await
        .unwrap();
    assert!(report.is_some());
    assert_eq!(fresh.id, image.id);
    assert_eq!(fresh.references, vec![by_digest.clone()]);
}

/// Pushes an OCI index for library/busybox:multi: linux/arm64 -> the image tagged `arm`,
/// linux/amd64 -> the image tagged 1.36 (with the arm64 entry first, so order alone is not it).
/// Returns the index's digest.
fn push_index(reg: &TestRegistry) -> String {
    let script = r#"
set -euo pipefail
base="http://$1/v2/library/busybox/manifests"
accept="Accept: application/vnd.oci.image.manifest.v1+json"
entry() {
    curl -fsS -H "$accept" -o "$2/$3.json" "$base/$3"
    printf '{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"%s","os":"linux"}}' \
        "$(sha256sum "$2/$3.json" | cut -d' ' -f1)" "$(stat -c %s "$2/$3.json")" "$4"
}
arm="$(entry "$1" "$2" arm arm64)"
amd="$(entry "$1" "$2" 1.36 amd64)"
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[%s,%s]}' "$arm" "$amd" >"$2/index.json"
curl -fsS -X PUT -H "Content-Type: application/vnd.oci.image.index.v1+json" \
    --data-binary @"$2/index.json" "$base/multi"
echo "sha256:$(sha256sum "$2/index.json" | cut -d' ' -f1)"
"#;
    let work = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("bash")
        .args(["-c", script, "push-index"])
        .arg(reg.addr())
        .arg(work.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_index_resolves_to_linux_amd64() {
    let reg = TestRegistry::start();
    // A second build of the test image: another config, so another image ID.
    reg.push("arm", None);
    let index_digest = push_index(&reg);

    let root = tempfile::tempdir().unwrap();
    let svc = service(&reg, root.path());
    let (amd64, _) = svc
        .ensure("busybox:1.36", PullPolicy::IfNotPresent, &[])
        .await
        .unwrap();
    let (arm, _) = svc
        .ensure("busybox:arm", PullPolicy::IfNotPresent, &[])
        .await
        .unwrap();
    assert_ne!(amd64.id, arm.id);
    let (multi, report) = svc
        .ensure("busybox:multi", PullPolicy::IfNotPresent, &[])
        .await
        .unwrap();
    assert_eq!(multi.id, amd64.id, "the linux/amd64 entry");
    assert_eq!(report.unwrap().bytes, 0, "its blobs were there already");
    // The repo digest is the index's (what a pod's imageID shows for a multi-arch tag).
    assert_eq!(
        multi.repo_digest.unwrap(),
        format!("docker.io/library/busybox@{index_digest}")
    );
}
