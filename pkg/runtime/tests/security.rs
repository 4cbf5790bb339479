//! Users, capabilities, seccomp, read-only rootfs, volumes and hostNetwork (as root).

mod common;

use common::Fixture;
use rkube_runtime::{Mount, MountKind, SandboxSpec};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_caps_seccomp_readonly_and_mounts() {
    let mut fx = Fixture::new("sec");
    let sb = fx.sandbox("pod-sec", "pod-sec").await;
    let vol = fx.dir.path().join("vol");
    std::fs::create_dir_all(&vol).unwrap();
    std::fs::write(vol.join("data"), "from-host\n").unwrap();

    let script = "id -u; id -g; id -G; grep -E '^(CapEff|Seccomp):' /proc/self/status; \
                  cat /vol/data; echo w > /vol/new; echo t > /scratch/x && cat /scratch/x; \
                  touch /rootfile 2>/dev/null && echo rootfs-writable || echo rootfs-readonly; \
                  cat /etc/resolv.conf";
    let mut spec = fx.spec("c-sec", &sb, &["sh", "-c", script]);
    spec.uid = 65534;
    spec.gid = 65534;
    spec.additional_gids = vec![1234];
    spec.security.read_only_rootfs = true;
    spec.security.cap_drop = vec!["ALL".into()];
    spec.security.cap_add = vec!["NET_BIND_SERVICE".into()];
    spec.security.seccomp = Some("RuntimeDefault".into());
    spec.mounts = vec![
        Mount {
            source: vol.clone(),
            destination: "/vol".into(),
            read_only: false,
            kind: MountKind::Bind,
        },
        Mount {
            source: "tmpfs".into(),
            destination: "/scratch".into(),
            read_only: false,
            kind: MountKind::Tmpfs {
                size: Some(1 << 20),
            },
        },
    ];
    // The volume is owned by root: let nobody write to it.
    std::fs::set_permissions(&vol, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    fx.rt.run_container(&spec).await.unwrap();
    let exit = fx.rt.wait("c-sec").await.unwrap();
    let out = fx.logs("c-sec").await;
    assert_eq!(exit.exit_code, 0, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(&lines[..3], ["65534", "65534", "65534 1234"], "{out}");
    // Non-root: no effective capabilities after exec; seccomp filter mode (2).
    assert!(out.contains("CapEff:\t0000000000000000"), "{out}");
    assert!(out.contains("Seccomp:\t2"), "{out}");
    assert!(out.contains("from-host\n"), "{out}");
    assert!(out.contains("\nt\n"), "{out}");
    assert!(out.contains("rootfs-readonly"), "{out}");
    assert!(out.contains("nameserver 10.0.0.10"), "{out}");
    assert_eq!(std::fs::read_to_string(vol.join("new")).unwrap(), "w\n");

    // Root with the default set: CAP_NET_ADMIN is not in it, CAP_NET_RAW is; seccomp denies
    // what RuntimeDefault denies even to root.
    let script = "grep -E '^(CapBnd|NoNewPrivs|Seccomp):' /proc/self/status; ip link add dummy0 type dummy 2>/dev/null && echo netadmin || echo no-netadmin";
    let mut spec = fx.spec("c-caps", &sb, &["sh", "-c", script]);
    spec.security.seccomp = Some("RuntimeDefault".into());
    spec.security.no_new_privileges = true;
    fx.rt.run_container(&spec).await.unwrap();
    fx.rt.wait("c-caps").await.unwrap();
    let out = fx.logs("c-caps").await;
    // CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP NET_BIND_SERVICE NET_RAW
    // SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP = 0xa80425fb, as containerd.
    assert!(out.contains("CapBnd:\t00000000a80425fb"), "{out}");
    assert!(out.contains("no-netadmin"), "{out}");
    assert!(
        out.contains("NoNewPrivs:\t1") && out.contains("Seccomp:\t2"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_network_sandbox_uses_the_hosts_network_and_hostname() {
    let mut fx = Fixture::new("hostnet");
    let spec = SandboxSpec {
        id: "pod-hostnet".into(),
        hostname: "ignored".into(),
        host_network: true,
        hosts_file: "127.0.0.1 localhost\n".into(),
        resolv_conf: "nameserver 10.0.0.10\n".into(),
    };
    fx.sandboxes.push(spec.id.clone());
    let sb = fx.rt.create_sandbox(&spec).await.unwrap();
    assert!(sb.netns.is_none() && sb.uts_ns.is_none());
    fx.rt.remove_sandbox("pod-hostnet").await.unwrap();
    let sb = fx.rt.create_sandbox(&spec).await.unwrap();
    let host_ifaces: Vec<String> = std::fs::read_dir("/sys/class/net")
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    fx.rt
        .run_container(&fx.spec(
            "c-hostnet",
            &sb,
            &["sh", "-c", "hostname; ls /sys/class/net"],
        ))
        .await
        .unwrap();
    assert_eq!(fx.rt.wait("c-hostnet").await.unwrap().exit_code, 0);
    let out = fx.logs("c-hostnet").await;
    let host = nix::unistd::gethostname().unwrap().into_string().unwrap();
    assert_eq!(out.lines().next(), Some(host.as_str()), "{out}");
    for iface in host_ifaces {
        assert!(out.contains(&iface), "{iface} missing: {out}");
    }
    fx.rt.remove_container("c-hostnet").await.unwrap();
    fx.rt.remove_sandbox("pod-hostnet").await.unwrap();
}
