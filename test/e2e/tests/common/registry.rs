//! A real OCI registry (Debian's docker-registry) holding `library/busybox:1.36`, shared with
//! the image tests (rkube-test-support); see there.

pub use rkube_test_support::Registry;
