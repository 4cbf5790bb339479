//! `rkube images import|ls|rm`: the node's image store (`<data-dir>/agent/images-store`) for
//! air-gapped nodes and inspection, without a running server.

use std::path::PathBuf;

use rkube_image::{Image, ImageService, RegistriesConfig};

#[derive(Debug, clap::Args)]
pub struct ImagesArgs {
    /// rkube's data directory; images live in <data-dir>/agent/images-store (archives
    /// dropped in <data-dir>/agent/images are imported when the agent starts).
    #[arg(
        long,
        global = true,
        default_value = "/var/lib/rkube",
        value_name = "DIR"
    )]
    data_dir: PathBuf,
    #[command(subcommand)]
    command: ImagesCommand,
}

#[derive(Debug, clap::Subcommand)]
enum ImagesCommand {
    /// Import image tarballs: OCI archives (skopeo copy ... oci-archive:) or docker archives
    /// (docker save), plain or gzip.
    Import {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// List the images on this node.
    #[command(alias = "list")]
    Ls {
        /// Print only image IDs.
        #[arg(short, long)]
        quiet: bool,
    },
    /// Remove image references (by reference or ID); an image without references is deleted.
    #[command(alias = "remove")]
    Rm {
        #[arg(required = true, value_name = "REF")]
        references: Vec<String>,
    },
}

/// Runs the subcommand; the error is what to print.
pub fn run(args: ImagesArgs) -> Result<(), String> {
    let root = args.data_dir.join("agent/images-store");
    let svc = ImageService::open(&root, RegistriesConfig::default()).map_err(|e| e.to_string())?;
    match args.command {
        ImagesCommand::Import { files } => {
            for f in files {
                for img in svc.import(&f).map_err(|e| e.to_string())? {
                    println!("imported {} {}", names(&img).join(","), short_id(&img.id));
                }
            }
        }
        ImagesCommand::Ls { quiet } => {
            let mut images = svc.list().map_err(|e| e.to_string())?;
            images.sort_by_key(names);
            if quiet {
                for img in &images {
                    println!("{}", img.id);
                }
                return Ok(());
            }
            let rows: Vec<[String; 3]> = images
                .iter()
                .flat_map(|img| {
                    names(img)
                        .into_iter()
                        .map(move |n| [n, short_id(&img.id).to_string(), human_size(img.size)])
                })
                .collect();
            print_table(["IMAGE", "IMAGE ID", "SIZE"], &rows);
        }
        ImagesCommand::Rm { references } => {
            let mut failed = Vec::new();
            for r in references {
                match svc.remove(&r) {
                    Ok(()) => println!("deleted {r}"),
                    Err(e) => failed.push(e.to_string()),
                }
            }
            if !failed.is_empty() {
                return Err(failed.join("; "));
            }
        }
    }
    Ok(())
}

fn names(img: &Image) -> Vec<String> {
    if img.references.is_empty() {
        vec!["<none>".to_string()]
    } else {
        img.references.clone()
    }
}

/// The first 12 hex digits, as `docker images` and `crictl images` show IDs.
fn short_id(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(12)]
}

fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "kB", "MB", "GB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1000.0 && unit < UNITS.len() - 1 {
        v /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes}B")
    } else {
        format!("{v:.1}{}", UNITS[unit])
    }
}

fn print_table(header: [&str; 3], rows: &[[String; 3]]) {
    let mut widths = header.map(str::len);
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    println!(
        "{:<w0$}   {:<w1$}   {}",
        header[0],
        header[1],
        header[2],
        w0 = widths[0],
        w1 = widths[1]
    );
    for row in rows {
        println!(
            "{:<w0$}   {:<w1$}   {}",
            row[0],
            row[1],
            row[2],
            w0 = widths[0],
            w1 = widths[1]
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_ids() {
        assert_eq!(human_size(999), "999B");
        assert_eq!(human_size(1_088_497), "1.1MB");
        assert_eq!(short_id("sha256:0123456789abcdef"), "0123456789ab");
    }
}
