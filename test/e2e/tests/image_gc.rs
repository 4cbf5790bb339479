//! Image garbage collection in a real agent: with the thresholds set so GC always runs
//! (high 1%, low 0%, minimum age 0), an image no container uses is deleted, the image of a
//! running pod stays (with the layer both share), the pod keeps running, and the Node gets
//! upstream's FreeDiskSpaceFailed event since 0% can never be reached.

mod common;

use std::process::Command;

use common::{eventually, registry::Registry, rkube_bin, Cluster};

const K: &str = "1.33";

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn images_ls(c: &Cluster) -> String {
    run(Command::new(rkube_bin())
        .args(["images", "ls", "--data-dir"])
        .arg(c.dir.path().join("data")))
}

/// busybox:1.36 with another config (so another image ID) over the same layer, as an OCI
/// archive named docker.io/library/gcvictim:1.
fn victim_archive(registry: &Registry, dir: &std::path::Path) -> std::path::PathBuf {
    let layout = dir.join("layout");
    run(Command::new("skopeo")
        .args(["copy", "--quiet"])
        .arg(format!("oci-archive:{}", registry.archive().display()))
        .arg(format!("oci:{}:base", layout.display())));
    run(Command::new("umoci")
        .args(["config", "--image"])
        .arg(format!("{}:base", layout.display()))
        .args(["--tag", "victim", "--config.env", "GC_VICTIM=1"]));
    let archive = dir.join("victim.tar");
    run(Command::new("skopeo")
        .args(["copy", "--quiet"])
        .arg(format!("oci:{}:victim", layout.display()))
        .arg(format!(
            "oci-archive:{}:docker.io/library/gcvictim:1",
            archive.display()
        )));
    archive
}

#[test]
fn unused_images_are_collected_and_used_ones_kept() {
    let registry = Registry::start();
    let work = tempfile::tempdir().unwrap();
    let archive = victim_archive(&registry, work.path());
    let c = Cluster::start_with_agent(
        &registry,
        &[
            "--image-gc-high-threshold",
            "1",
            "--image-gc-low-threshold",
            "0",
            "--image-gc-min-age",
            "0s",
            "--image-gc-period",
            "2s",
        ],
    );
    let node = c.agent.clone().unwrap().node_name;
    c.apply_stdin(
        K,
        &["apply", "-f", "-"],
        r#"
apiVersion: v1
kind: Pod
metadata: {name: user}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: c, image: busybox:1.36, command: ["sleep", "3600"]}
"#,
    );
    eventually(90, "the pod to run", || {
        (c.jsonpath(&["pod", "user"], "{.status.phase}") == "Running").then_some(())
    });

    let imported = run(Command::new(rkube_bin())
        .args(["images", "import", "--data-dir"])
        .arg(c.dir.path().join("data"))
        .arg(&archive));
    assert!(imported.contains("gcvictim"), "import said: {imported}");

    let imported_at = std::time::Instant::now();
    eventually(60, "the unused image to be collected", || {
        let ls = images_ls(&c);
        (!ls.contains("gcvictim")).then_some(ls)
    });
    eprintln!(
        "unused image collected {:?} after its import (GC period 2s)",
        imported_at.elapsed()
    );
    // Several GC passes later the used image is still there and the pod still runs.
    eventually(
        60,
        "upstream's FreeDiskSpaceFailed and ImageGCFailed node events",
        || {
            let reasons = c.jsonpath(
                &[
                    "events",
                    "-n",
                    "default",
                    "--field-selector",
                    &format!("involvedObject.kind=Node,involvedObject.name={node}"),
                ],
                "{.items[*].reason}",
            );
            (reasons.contains("FreeDiskSpaceFailed") && reasons.contains("ImageGCFailed"))
                .then_some(())
        },
    );
    let msg = c.jsonpath(
        &[
            "events",
            "-n",
            "default",
            "--field-selector",
            "reason=FreeDiskSpaceFailed",
        ],
        "{.items[0].message}",
    );
    assert!(
        msg.starts_with("Failed to garbage collect required amount of images. Attempted to free "),
        "{msg}"
    );
    let ls = images_ls(&c);
    assert!(ls.contains("busybox"), "the used image was collected: {ls}");
    // The Node's status.images follows.
    eventually(30, "status.images without the collected image", || {
        let names = c.jsonpath(&["node", &node], "{.status.images[*].names}");
        (names.contains("docker.io/library/busybox:1.36") && !names.contains("gcvictim"))
            .then_some(())
    });
    assert_eq!(c.jsonpath(&["pod", "user"], "{.status.phase}"), "Running");
    assert_eq!(
        c.jsonpath(
            &["pod", "user"],
            "{.status.containerStatuses[0].restartCount}"
        ),
        "0"
    );
    // The layer busybox shares with the collected image is intact: a second pod starts from it
    // without a pull.
    c.apply_stdin(
        K,
        &["apply", "-f", "-"],
        r#"
apiVersion: v1
kind: Pod
metadata: {name: again}
spec:
  terminationGracePeriodSeconds: 1
  restartPolicy: Never
  containers:
  - {name: c, image: busybox:1.36, imagePullPolicy: Never, command: ["sh", "-c", "ls /bin/busybox"]}
"#,
    );
    eventually(60, "the second pod to succeed", || {
        (c.jsonpath(&["pod", "again"], "{.status.phase}") == "Succeeded").then_some(())
    });
    c.delete_all_pods();
}
