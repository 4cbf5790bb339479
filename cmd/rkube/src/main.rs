//! rkube: one binary, thin main. Parses and validates configuration once, sets up logging,
//! and hands over to the pkg/ crates.

mod agent_args;
mod images_args;
mod killall_args;
mod logging;
mod server_args;
mod sim_args;
mod version;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "rkube", about = "A lightweight, Kubernetes-compatible distribution", version = version::SHORT)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the control plane (API server over etcd or the embedded store, controllers) and,
    /// unless --disable-agent, an agent.
    Server(Box<server_args::ServerArgs>),
    /// Print the version, git commit and the rustc that built this binary.
    Version,
    /// Join another machine's cluster with its token and run this node's kubelet.
    Agent(Box<agent_args::AgentArgs>),
    /// Run simulated nodes (no containers) against a cluster, for tests and benchmarks.
    Sim(sim_args::SimArgs),
    /// Manage the images on this node: import archives, list, remove.
    Images(images_args::ImagesArgs),
    /// Stop all containers and remove the pods' mounts, cgroups, namespaces and network from
    /// this host (run with the server stopped).
    Killall(killall_args::KillallArgs),
}

fn main() -> ExitCode {
    // The container runtime's helper re-execs this binary: dispatch it before clap and before
    // any tokio runtime exists (libcontainer must run single-threaded).
    let mut args = std::env::args();
    if args.nth(1).as_deref() == Some("__runtime") {
        return rkube_runtime::helper_main(args.collect());
    }
    let cli = Cli::parse();
    match cli.command {
        Command::Version => {
            print!("{}", version::long());
            ExitCode::SUCCESS
        }
        Command::Images(args) => {
            logging::init(logging::LogFormat::detect());
            match images_args::run(args) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("rkube: error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Killall(args) => {
            logging::init(logging::LogFormat::detect());
            match killall_args::run(args) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("rkube: error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Sim(args) => {
            let (cfg, kubeconfig, log_format) = match args.resolve() {
                Ok(v) => v,
                Err(e) => {
                    eprintln!("rkube: error: {e}");
                    return ExitCode::from(2);
                }
            };
            logging::init(log_format);
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("rkube: error: starting the runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match runtime.block_on(sim_args::run(cfg, kubeconfig, shutdown_signal())) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("rkube: error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Agent(args) => {
            let (cfg, log_format) = match args.resolve() {
                Ok(v) => v,
                Err(e) => {
                    eprintln!("rkube: error: {e}");
                    return ExitCode::from(2);
                }
            };
            logging::init(log_format);
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("rkube: error: starting the runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match runtime.block_on(rkube_kubelet::agent::run(cfg, shutdown_signal())) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!(error = %e, "agent failed");
                    eprintln!("rkube: error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Server(args) => {
            // Everything is validated before a runtime starts, a file opens or a socket binds.
            let (cfg, log_format) = match args.resolve() {
                Ok(v) => v,
                Err(e) => {
                    eprintln!("rkube: error: {e}");
                    return ExitCode::from(2);
                }
            };
            logging::init(log_format);
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("rkube: error: starting the runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match runtime.block_on(rkube_server::run(cfg, shutdown_signal())) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!(error = %e, "server failed");
                    eprintln!("rkube: error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// Resolves on SIGTERM or SIGINT.
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("installing the SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
