//! Reading and checking the layered configuration.

use std::collections::BTreeMap;
use std::path::Path;

use super::Settings;
use crate::telegram::settings::Secret;

/// A configuration problem, located as precisely as we can (file and line, or variable).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("environment variable {var}: {message}")]
    Env { var: String, message: String },
    #[error("the configuration is not valid:\n{}", .issues.join("\n"))]
    Invalid { issues: Vec<String> },
    #[error("{0}")]
    Missing(&'static str),
}

/// Prefix of the environment variables that override configuration keys.
const ENV_PREFIX: &str = "TOUCHBOT_";
/// Variables with the prefix that are not configuration keys.
const ENV_NOT_KEYS: &[&str] = &["TOUCHBOT_CONFIG", "TOUCHBOT_LOG"];

/// Loads defaults ← the file (if any) ← the environment, then checks the result.
pub fn load(file: Option<&Path>, env: &BTreeMap<String, String>) -> Result<Settings, ConfigError> {
    let (text, shown) = match file {
        Some(path) => {
            let shown = path.display().to_string();
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: shown.clone(),
                source,
            })?;
            (text, shown)
        }
        None => (String::new(), "(built-in defaults)".to_string()),
    };
    // Parsing the text itself (not a merged value) keeps line numbers in the error.
    let mut settings: Settings = toml::from_str(&text).map_err(|e| ConfigError::Parse {
        path: shown.clone(),
        message: e.to_string(),
    })?;

    let overrides = env_overrides(env)?;
    if !overrides.is_empty() {
        let mut value = toml::Value::try_from(&settings).map_err(|e| ConfigError::Parse {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        for (var, keys, v) in &overrides {
            set_path(&mut value, keys, v.clone()).map_err(|message| ConfigError::Env {
                var: var.clone(),
                message,
            })?;
        }
        let url = settings.database.url.take();
        settings = value.try_into().map_err(|e: toml::de::Error| {
            let vars: Vec<&str> = overrides.iter().map(|(v, _, _)| v.as_str()).collect();
            ConfigError::Env {
                var: vars.join(", "),
                message: e.message().to_string(),
            }
        })?;
        settings.database.url = url;
    }
    if let Some(url) = env.get("DATABASE_URL").filter(|u| !u.trim().is_empty()) {
        settings.database.url = Some(url.clone().into());
    }
    // teloxide's own names, so a bot set up for `Bot::from_env()` works unchanged.
    let secret = |var: &str| {
        env.get(var)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .map(Secret::from)
    };
    settings.telegram.token = secret("TELOXIDE_TOKEN");
    settings.telegram.api_url = secret("TELOXIDE_API_URL");
    settings.telegram.webhook_secret = secret("TELEGRAM_WEBHOOK_SECRET");
    settings.whatsapp.read_env(env);
    // The dispatcher applies WhatsApp's window whatever carries the message (the demo's
    // simulated WhatsApp too), so it gets the rule from here.
    settings.dispatcher.window = settings.whatsapp.window();

    let issues = settings.issues();
    if issues.is_empty() {
        Ok(settings)
    } else {
        Err(ConfigError::Invalid {
            issues: issues
                .into_iter()
                .map(|(key, message)| match locate(&text, &key) {
                    Some(line) => format!("  {shown}:{line}: {key}: {message}"),
                    None => format!("  {shown}: {key}: {message}"),
                })
                .collect(),
        })
    }
}

type Override = (String, Vec<String>, toml::Value);

fn env_overrides(env: &BTreeMap<String, String>) -> Result<Vec<Override>, ConfigError> {
    let mut out = Vec::new();
    for (var, raw) in env {
        let Some(rest) = var.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        if ENV_NOT_KEYS.contains(&var.as_str()) {
            continue;
        }
        let keys: Vec<String> = rest.split("__").map(|k| k.to_ascii_lowercase()).collect();
        if keys.iter().any(|k| k.is_empty()) {
            return Err(ConfigError::Env {
                var: var.clone(),
                message: "use TOUCHBOT_SECTION__KEY, with two underscores between names".into(),
            });
        }
        // A value that reads as TOML (a number, a boolean, an array) is taken as such;
        // anything else is a string.
        let value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(raw.clone()));
        out.push((var.clone(), keys, value));
    }
    Ok(out)
}

fn set_path(root: &mut toml::Value, keys: &[String], value: toml::Value) -> Result<(), String> {
    let mut node = root;
    for (i, key) in keys.iter().enumerate() {
        let table = node
            .as_table_mut()
            .ok_or_else(|| format!("'{}' is not a section", keys[..i].join(".")))?;
        if i + 1 == keys.len() {
            table.insert(key.clone(), value);
            return Ok(());
        }
        node = table
            .entry(key.clone())
            .or_insert_with(|| toml::Value::Table(Default::default()));
    }
    Ok(())
}

/// Finds the line that sets `key` (a dotted path, with `[n]` for the n-th table of an array)
/// so a validation message can point at it.
fn locate(text: &str, key: &str) -> Option<usize> {
    let mut parts: Vec<&str> = key.split('.').collect();
    let leaf = parts.pop()?;
    let (leaf, _) = split_index(leaf);
    let mut header = String::new();
    let mut start_line = 0;
    for part in parts {
        let (name, index) = split_index(part);
        header = if header.is_empty() {
            name.to_string()
        } else {
            format!("{header}.{name}")
        };
        let wanted = match index {
            Some(_) => format!("[[{header}]]"),
            None => format!("[{header}]"),
        };
        let mut seen = 0;
        let mut found = None;
        for (n, line) in text.lines().enumerate().skip(start_line) {
            if line.trim() == wanted {
                if seen == index.unwrap_or(0) {
                    found = Some(n);
                    break;
                }
                seen += 1;
            }
        }
        if let Some(n) = found {
            start_line = n + 1;
        }
    }
    text.lines()
        .enumerate()
        .skip(start_line)
        .find(|(_, line)| {
            let t = line.trim_start();
            t.strip_prefix(leaf)
                .is_some_and(|r| r.trim_start().starts_with('='))
        })
        .map(|(n, _)| n + 1)
}

fn split_index(part: &str) -> (&str, Option<usize>) {
    match part.split_once('[') {
        Some((name, rest)) => (name, rest.trim_end_matches(']').parse().ok()),
        None => (part, None),
    }
}

/// The full default configuration as a commented TOML file a user can copy and edit.
pub fn render_default() -> String {
    let mut out = String::from(
        "# touchbot configuration. Every key is optional: a missing key keeps its default.\n\
         # Environment variables override keys: TOUCHBOT_DISPATCHER__WORKERS=4, and DATABASE_URL\n\
         # sets database.url.\n\n",
    );
    out.push_str(DEFAULT_HEAD);
    out.push_str("\n[calendar]\n");
    out.push_str(crate::outbound::calendar::DEFAULT_TOML);
    out.push_str("\n[health]\n");
    out.push_str(crate::health::DEFAULT_TOML);
    out.push_str("\n[escalation]\n");
    out.push_str(crate::escalation::DEFAULT_TOML);
    out
}

const DEFAULT_HEAD: &str = include_str!("default_head.toml");

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn write(text: &str) -> tempfile_path::TempPath {
        tempfile_path::TempPath::new(text)
    }

    /// A small stand-in for a temp-file crate: these tests need one file each.
    mod tempfile_path {
        pub struct TempPath(pub std::path::PathBuf);
        impl TempPath {
            pub fn new(text: &str) -> TempPath {
                use std::sync::atomic::{AtomicUsize, Ordering};
                static N: AtomicUsize = AtomicUsize::new(0);
                let p = std::env::temp_dir().join(format!(
                    "touchbot-config-test-{}-{}.toml",
                    std::process::id(),
                    N.fetch_add(1, Ordering::SeqCst)
                ));
                std::fs::write(&p, text).unwrap();
                TempPath(p)
            }
        }
        impl Drop for TempPath {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(&self.0);
            }
        }
    }

    #[test]
    fn the_printed_default_configuration_loads_as_the_defaults() {
        let f = write(&render_default());
        let loaded = load(Some(&f.0), &env(&[])).unwrap();
        assert_eq!(
            toml::Value::try_from(&loaded).unwrap(),
            toml::Value::try_from(Settings::default()).unwrap()
        );
    }

    #[test]
    fn a_syntax_error_names_the_file_and_the_line() {
        let f = write("[database]\nmax_connections = 5\n\n[dispatcher\nworkers = 2\n");
        let err = load(Some(&f.0), &env(&[])).unwrap_err().to_string();
        assert!(err.contains(&f.0.display().to_string()), "{err}");
        assert!(err.contains("line 4"), "{err}");
    }

    #[test]
    fn an_unknown_key_is_refused_with_its_line() {
        let f = write("[database]\nmax_conections = 5\n");
        let err = load(Some(&f.0), &env(&[])).unwrap_err().to_string();
        assert!(err.contains("line 2"), "{err}");
        assert!(err.contains("max_conections"), "{err}");
    }

    #[test]
    fn environment_variables_override_the_file() {
        let f = write("[database]\nmax_connections = 5\n");
        let s = load(
            Some(&f.0),
            &env(&[
                ("TOUCHBOT_DATABASE__MAX_CONNECTIONS", "7"),
                ("DATABASE_URL", "postgres://x@localhost/db"),
                ("TOUCHBOT_CONFIG", "ignored.toml"),
            ]),
        )
        .unwrap();
        assert_eq!(s.database.max_connections, 7);
        assert!(s.database.url.is_some());
    }

    #[test]
    fn a_badly_typed_environment_variable_is_named() {
        let err = load(
            None,
            &env(&[("TOUCHBOT_DATABASE__MAX_CONNECTIONS", "many")]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("TOUCHBOT_DATABASE__MAX_CONNECTIONS"), "{err}");
    }

    #[test]
    fn a_missing_file_says_which_file() {
        let err = load(Some(Path::new("/nonexistent/touchbot.toml")), &env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent/touchbot.toml"), "{err}");
    }

    #[test]
    fn a_takeover_of_zero_hours_is_refused_with_its_line_and_the_range() {
        let f = write("[takeover]\nhours = 0\n");
        let err = load(Some(&f.0), &env(&[])).unwrap_err().to_string();
        assert!(err.contains(":2: takeover.hours"), "{err}");
        assert!(err.contains("from 1 to 720"), "{err}");
    }

    #[test]
    fn locate_finds_a_key_inside_the_nth_table_of_an_array() {
        let text = "[calendar]\n[[calendar.rules]]\nkey = \"a\"\nevery_days = 7\n\n[[calendar.rules]]\nkey = \"b\"\nevery_days = 0\n";
        assert_eq!(locate(text, "calendar.rules[1].every_days"), Some(8));
        assert_eq!(locate(text, "calendar.rules[0].key"), Some(3));
    }

    #[test]
    fn the_telegram_token_and_api_url_come_from_teloxides_variables_and_stay_hidden() {
        let s = load(
            None,
            &env(&[
                ("TELOXIDE_TOKEN", "123:secret-token"),
                ("TELOXIDE_API_URL", "http://127.0.0.1:8081"),
                ("TOUCHBOT_TELEGRAM__BOT_USERNAME", "acme_cs_bot"),
            ]),
        )
        .unwrap();
        assert!(s.telegram.token.is_some() && s.telegram.api_url.is_some());
        assert_eq!(s.telegram.bot_username.as_deref(), Some("acme_cs_bot"));
        assert!(!format!("{s:?}").contains("secret-token"));
        assert!(!render_default().contains("token ="));
    }

    #[test]
    fn the_whatsapp_secrets_come_from_the_environment_and_the_base_url_from_the_file() {
        let f = write("[whatsapp]\napi_url = \"http://127.0.0.1:9/v21.0\"\n");
        let s = load(
            Some(&f.0),
            &env(&[
                ("WHATSAPP_ACCESS_TOKEN", "EAAG-secret-token"),
                ("WHATSAPP_PHONE_NUMBER_ID", "106540352242922"),
            ]),
        )
        .unwrap();
        assert!(s.whatsapp.sends());
        assert_eq!(s.whatsapp.api_url, "http://127.0.0.1:9/v21.0");
        assert!(!format!("{s:?}").contains("secret-token"));
        let f = write("[whatsapp]\naccess_token = \"EAAG\"\n");
        let err = load(Some(&f.0), &env(&[])).unwrap_err().to_string();
        assert!(err.contains("access_token"), "{err}");
    }

    #[test]
    fn a_token_in_the_file_is_refused() {
        let f = write("[telegram]\ntoken = \"123:abc\"\n");
        let err = load(Some(&f.0), &env(&[])).unwrap_err().to_string();
        assert!(err.contains("token"), "{err}");
    }

    #[test]
    fn the_database_url_never_appears_in_debug_output() {
        let s = load(
            None,
            &env(&[("DATABASE_URL", "postgres://u:hunter2@localhost/db")]),
        )
        .unwrap();
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
