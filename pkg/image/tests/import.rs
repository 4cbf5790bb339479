//! Importing OCI archives and docker archives (made by skopeo from the test image).

mod common;

use std::process::Command;

use common::TestRegistry;
use rkube_image::{ImageService, PullPolicy, RegistriesConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_oci_and_docker_archives() {
    let reg = TestRegistry::start();
    let work = tempfile::tempdir().unwrap();
    let oci = work.path().join("busybox-oci.tar");
    reg.push("import", Some(&oci));
    let docker = work.path().join("busybox-docker.tar");
    let out = Command::new("skopeo")
        .arg("copy")
        .arg("--quiet")
        .arg(format!("oci-archive:{}", oci.display()))
        .arg(format!(
            "docker-archive:{}:example.com/tools/bb:2",
            docker.display()
        ))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // No registry configured: whatever is found must come from the archives.
    let root = tempfile::tempdir().unwrap();
    let svc = ImageService::open(root.path(), RegistriesConfig::default()).unwrap();
    // A second service on the same store, like a running server while `rkube images` runs.
    let server = ImageService::open(root.path(), RegistriesConfig::default()).unwrap();

    let added = svc.import(&oci).unwrap();
    assert_eq!(added.len(), 1);
    assert_eq!(
        added[0].references,
        vec!["docker.io/library/busybox:import"]
    );
    let img = svc.get("busybox:import").unwrap().expect("imported");
    assert_eq!(img.config.cmd, vec!["sh"]);
    assert!(img.layers[0].join("bin/busybox").is_file());
    assert!(img
        .repo_digest
        .as_deref()
        .unwrap()
        .starts_with("docker.io/library/busybox@sha256:"));
    let (ensured, report) = svc
        .ensure("busybox:import", PullPolicy::Never, &[])
        .await
        .unwrap();
    assert!(report.is_none());
    assert_eq!(ensured.id, img.id);
    let (seen, _) = server
        .ensure("busybox:import", PullPolicy::Never, &[])
        .await
        .expect("the other service sees the import");
    assert_eq!(seen.id, img.id);

    // Idempotent.
    let again = svc.import(&oci).unwrap();
    assert_eq!(again[0].id, img.id);
    assert_eq!(svc.list().unwrap().len(), 1);

    // A docker archive of the same image: same config (same ID), same layer content, one
    // more name. (Its layer is stored uncompressed, so under a different digest.)
    let added = svc.import(&docker).unwrap();
    assert_eq!(added.len(), 1);
    assert_eq!(added[0].id, img.id);
    let both = svc.get("example.com/tools/bb:2").unwrap().unwrap();
    assert_eq!(both.id, img.id);
    assert_eq!(svc.list().unwrap().len(), 1);
    assert!(both.layers[0].join("bin/busybox").is_file());

    // Removing by ID removes every name, the record and the layers.
    server.remove(&img.id[7..19]).unwrap();
    assert!(svc.get("busybox:import").unwrap().is_none());
    assert!(svc.list().unwrap().is_empty());
    assert!(!both.layers[0].exists());

    // Not an archive: a clear error naming the file.
    let junk = work.path().join("junk.tar");
    std::fs::write(&junk, b"not a tar").unwrap();
    let err = svc.import(&junk).unwrap_err().to_string();
    assert!(err.contains("junk.tar"), "{err}");
}
