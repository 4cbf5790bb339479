//! The parts of an OCI / Docker image config JSON that a container needs.

use crate::store::ConfigRecord;

#[derive(serde::Deserialize)]
struct ConfigFile {
    #[serde(default)]
    config: Option<ContainerConfig>,
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct ContainerConfig {
    #[serde(default)]
    entrypoint: Option<Vec<String>>,
    #[serde(default)]
    cmd: Option<Vec<String>>,
    #[serde(default)]
    env: Option<Vec<String>>,
    #[serde(default)]
    working_dir: Option<String>,
    #[serde(default)]
    user: Option<String>,
}

pub fn parse_config(bytes: &[u8]) -> Result<ConfigRecord, String> {
    let file: ConfigFile =
        serde_json::from_slice(bytes).map_err(|e| format!("invalid image config: {e}"))?;
    let c = file.config.unwrap_or_default();
    Ok(ConfigRecord {
        entrypoint: c.entrypoint.unwrap_or_default(),
        cmd: c.cmd.unwrap_or_default(),
        env: c.env.unwrap_or_default(),
        working_dir: c.working_dir.filter(|s| !s.is_empty()),
        user: c.user.filter(|s| !s.is_empty()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nulls_and_missing_fields() {
        let c = parse_config(
            br#"{"architecture":"amd64","config":{"Cmd":["sh"],"Entrypoint":null,"Env":["PATH=/bin"],"WorkingDir":""}}"#,
        )
        .unwrap();
        assert_eq!(c.cmd, vec!["sh"]);
        assert!(c.entrypoint.is_empty());
        assert_eq!(c.env, vec!["PATH=/bin"]);
        assert_eq!(c.working_dir, None);
        assert_eq!(parse_config(b"{}").unwrap(), ConfigRecord::default());
    }
}
