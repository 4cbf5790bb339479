//! The runtime helper on its own, for this crate's tests (rkube itself dispatches
//! `rkube __runtime ...` to the same function).

fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("__runtime") => rkube_runtime::helper_main(args.collect()),
        _ => {
            eprintln!("usage: rkube-runtime-helper __runtime <op> ...");
            std::process::ExitCode::from(2)
        }
    }
}
