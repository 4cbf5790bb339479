//! A real docker-registry on a free loopback port for the image tests, with the test image
//! pushed (shared with the e2e tests: rkube-test-support).

pub use rkube_test_support::Registry as TestRegistry;
