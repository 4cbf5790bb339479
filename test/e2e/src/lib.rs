//! End-to-end tests live in `tests/`: each starts a real `rkube server` (embedded store, or the
//! etcd named by RKUBE_TEST_ETCD) on a free port and drives it with real kubectl binaries.
