//! Admission: what kube-apiserver's admission plugins change or refuse on a write before it
//! is validated and stored. Defaults that need no lookup live in rkube-api (defaults/).

pub mod serviceaccount;
