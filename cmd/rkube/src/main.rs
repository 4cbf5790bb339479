//! rkube: one binary, thin main. Parses and validates configuration once, sets up logging,
//! and hands over to the pkg/ crates.

mod agent_args;
mod image_gc_args;
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
            finish(images_args::run(args), "images")
        }
        Command::Killall(args) => {
            logging::init(logging::LogFormat::detect());
            finish(killall_args::run(args), "killall")
        }
        Command::Sim(args) => match args.resolve() {
            Ok((cfg, kubeconfig, log_format)) => {
                logging::init(log_format);
                serve("simulated nodes", |stop| {
                    sim_args::run(cfg, kubeconfig, stop)
                })
            }
            Err(e) => usage_error(e),
        },
        Command::Agent(args) => match args.resolve() {
            Ok((cfg, log_format)) => {
                logging::init(log_format);
                serve("agent", |stop| rkube_kubelet::agent::run(cfg, stop))
            }
            Err(e) => usage_error(e),
        },
        // Everything is validated before a runtime starts, a file opens or a socket binds.
        Command::Server(args) => match args.resolve() {
            Ok((cfg, log_format)) => {
                logging::init(log_format);
                serve("server", |stop| rkube_server::run(cfg, stop))
            }
            Err(e) => usage_error(e),
        },
    }
}

/// A configuration error: one line, exit status 2.
fn usage_error(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("rkube: error: {e}");
    ExitCode::from(2)
}

/// A finished command's exit status; its error goes to the log and stderr.
fn finish<E: std::fmt::Display>(result: Result<(), E>, what: &str) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "{what} failed");
            eprintln!("rkube: error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a long-lived component on a multi-threaded runtime until SIGTERM/SIGINT.
fn serve<F, Fut, E>(what: &str, component: F) -> ExitCode
where
    F: FnOnce(std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>) -> Fut,
    Fut: std::future::Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
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
    finish(
        runtime.block_on(component(Box::pin(shutdown_signal()))),
        what,
    )
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
