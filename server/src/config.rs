//! One typed configuration: `TESSERA_*` environment variables over an optional
//! TOML file (`TESSERA_CONFIG`), checked at start with one message per bad value.

use crate::client_ip::{AddressRanges, ForwardedHeader};
use secrecy::SecretString;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: SecretString,
    pub listen: SocketAddr,
    /// Scheme, host and port people reach Tessera at (cookies, Origin checks).
    pub public_url: String,
    pub environment: Environment,
    pub site_root: PathBuf,
    pub session_idle_minutes: i64,
    pub session_absolute_hours: i64,
    pub signin_max_failures_per_account: u32,
    pub signin_max_failures_per_ip: u32,
    pub signin_failure_window_minutes: i64,
    pub db_max_connections: u32,
    pub body_limit_bytes: usize,
    pub log_format: LogFormat,
    /// 32 bytes for keyed hashes of one-time codes; when unset a random key
    /// is made at start (codes then die with a restart).
    pub secret_key: Option<SecretKey>,
    /// Region assumed for numbers typed without a country code ("US").
    pub default_phone_region: String,
    /// Where security notifications are mailed (`smtp://` or `smtps://`,
    /// credentials in the URL); none: they go to the outbox.
    pub smtp_url: Option<SecretString>,
    pub smtp_from: String,
    /// Proxies whose forwarding header names the client (SECURITY.md 33).
    pub trusted_proxies: AddressRanges,
    /// The header those proxies write.
    pub forwarded_header: ForwardedHeader,
    /// Who may read `/metrics`: these client addresses (after the trusted
    /// proxies), or anyone with [`Config::metrics_token`]. Neither: nobody.
    pub metrics_from: AddressRanges,
    pub metrics_token: Option<SecretString>,
}

/// A 32-byte key; its Debug never shows it.
#[derive(Clone)]
pub struct SecretKey(pub [u8; 32]);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

impl Config {
    /// Whether cookies get the `Secure` flag.
    pub fn https(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    /// The origin (scheme://host[:port]) that browsers send in `Origin`.
    pub fn public_origin(&self) -> &str {
        self.public_url.trim_end_matches('/')
    }
}

/// One setting: its key (`TESSERA_` + upper case in the environment), default
/// and description. The README's configuration table lists the same.
pub struct Setting {
    pub key: &'static str,
    pub default: Option<&'static str>,
    pub help: &'static str,
}

pub const SETTINGS: &[Setting] = &[
    Setting {
        key: "database_url",
        default: None,
        help: "PostgreSQL URL (DATABASE_URL is read when this is unset)",
    },
    Setting {
        key: "listen",
        default: Some("127.0.0.1:3000"),
        help: "address and port to listen on",
    },
    Setting {
        key: "public_url",
        default: Some("http://127.0.0.1:3000"),
        help: "URL people use; https:// makes cookies Secure; passkeys need a domain name here, not an IP address",
    },
    Setting {
        key: "environment",
        default: Some("production"),
        help: "development or production",
    },
    Setting {
        key: "site_root",
        default: Some("target/site"),
        help: "folder with the built wasm, JS, CSS and public files",
    },
    Setting {
        key: "session_idle_minutes",
        default: Some("30"),
        help: "a session ends after this long unused (1-1440)",
    },
    Setting {
        key: "session_absolute_hours",
        default: Some("12"),
        help: "a signed-in session ends this long after sign-in (1-168)",
    },
    Setting {
        key: "signin_max_failures_per_account",
        default: Some("5"),
        help: "failed sign-ins per account per window (1-1000)",
    },
    Setting {
        key: "signin_max_failures_per_ip",
        default: Some("30"),
        help: "failed sign-ins per IP address per window (1-100000)",
    },
    Setting {
        key: "signin_failure_window_minutes",
        default: Some("15"),
        help: "the throttling window (1-1440)",
    },
    Setting {
        key: "db_max_connections",
        default: Some("10"),
        help: "database pool size (1-500)",
    },
    Setting {
        key: "body_limit_bytes",
        default: Some("65536"),
        help: "largest request body accepted (1024-10485760)",
    },
    Setting {
        key: "log_format",
        default: Some("pretty"),
        help: "pretty or json",
    },
    Setting {
        key: "secret_key",
        default: None,
        help: "64 hex digits keying code hashes and sealing provider secrets; every server on one database needs the same (random per start when unset, and provider secrets cannot be saved then)",
    },
    Setting {
        key: "default_phone_region",
        default: Some("US"),
        help: "region for numbers typed without a country code (ISO 3166 code)",
    },
    Setting {
        key: "smtp_url",
        default: None,
        help: "SMTP server for security notifications: smtps://user:pass@host:465, smtp://host:587?tls=required, or smtp://127.0.0.1:25 (unset: notifications go to the outbox)",
    },
    Setting {
        key: "smtp_from",
        default: Some("Tessera <tessera@localhost>"),
        help: "the From address of notification emails",
    },
    Setting {
        key: "trusted_proxies",
        default: Some(""),
        help: "reverse proxies whose forwarding header names the client: addresses or CIDR ranges, comma-separated (empty: the TCP peer is the client)",
    },
    Setting {
        key: "metrics_from",
        default: Some(""),
        help: "client addresses or CIDR ranges that may read /metrics, comma-separated (empty, and no token: /metrics is not served)",
    },
    Setting {
        key: "metrics_token",
        default: None,
        help: "a bearer token (16 characters or more) that may read /metrics from anywhere: `Authorization: Bearer TOKEN`",
    },
    Setting {
        key: "forwarded_header",
        default: Some("x-forwarded-for"),
        help: "the header the trusted proxies write the client's address to: x-forwarded-for or forwarded",
    },
];

/// Loads from the process environment and the optional file it names.
pub fn load() -> Result<Config, Vec<String>> {
    let env: BTreeMap<String, String> = std::env::vars().collect();
    let file = match env.get("TESSERA_CONFIG") {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => Some(text),
            Err(e) => return Err(vec![format!("TESSERA_CONFIG: cannot read {path}: {e}")]),
        },
        None => None,
    };
    from_sources(&env, file.as_deref())
}

/// Builds the configuration from environment variables and an optional TOML
/// text; every bad value gets its own message.
pub fn from_sources(env: &BTreeMap<String, String>, file: Option<&str>) -> Result<Config, Vec<String>> {
    let mut errors = Vec::new();
    let mut values: BTreeMap<String, (String, String)> = BTreeMap::new();

    if let Some(text) = file {
        match text.parse::<toml::Table>() {
            Ok(table) => {
                for (k, v) in table {
                    if !SETTINGS.iter().any(|s| s.key == k) {
                        errors.push(format!("config file: unknown setting `{k}`"));
                        continue;
                    }
                    let v = match v {
                        toml::Value::String(s) => s,
                        other => other.to_string(),
                    };
                    values.insert(k.clone(), (v, format!("config file `{k}`")));
                }
            }
            Err(e) => errors.push(format!("config file: not valid TOML: {e}")),
        }
    }
    for s in SETTINGS {
        let var = format!("TESSERA_{}", s.key.to_uppercase());
        if let Some(v) = env.get(&var) {
            values.insert(s.key.to_owned(), (v.clone(), var));
        }
    }
    if !values.contains_key("database_url")
        && let Some(v) = env.get("DATABASE_URL")
    {
        values.insert("database_url".into(), (v.clone(), "DATABASE_URL".into()));
    }

    let mut get = |key: &str| -> (String, String) {
        values.remove(key).unwrap_or_else(|| {
            let default = SETTINGS
                .iter()
                .find(|s| s.key == key)
                .and_then(|s| s.default)
                .unwrap_or("");
            (default.to_owned(), format!("TESSERA_{}", key.to_uppercase()))
        })
    };

    let (v, src) = get("database_url");
    let database_url = if v.starts_with("postgres://") || v.starts_with("postgresql://") {
        Some(SecretString::from(v))
    } else if v.is_empty() {
        errors.push(format!(
            "{src}: required; set it to a PostgreSQL URL like postgres://user@127.0.0.1:5432/tessera"
        ));
        None
    } else {
        errors.push(format!("{src}: must start with postgres:// or postgresql://"));
        None
    };

    let (v, src) = get("listen");
    let listen = v
        .parse::<SocketAddr>()
        .map_err(|_| errors.push(format!("{src}: `{v}` is not an address like 127.0.0.1:3000")))
        .ok();

    let (v, src) = get("public_url");
    let public_url = match v.split_once("://") {
        Some(("http" | "https", rest)) if !rest.is_empty() && !rest.trim_end_matches('/').contains('/') => {
            Some(v.trim_end_matches('/').to_owned())
        }
        _ => {
            errors.push(format!(
                "{src}: `{v}` is not a URL like https://tessera.example.org (scheme, host and port only)"
            ));
            None
        }
    };

    let (v, src) = get("environment");
    let environment = match v.as_str() {
        "development" => Some(Environment::Development),
        "production" => Some(Environment::Production),
        _ => {
            errors.push(format!("{src}: `{v}` must be development or production"));
            None
        }
    };

    let (v, _) = get("site_root");
    let site_root = PathBuf::from(v);

    let mut number = |key: &str, min: i64, max: i64| -> i64 {
        let (v, src) = get(key);
        match v.trim().parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => n,
            _ => {
                errors.push(format!("{src}: `{v}` must be a whole number from {min} to {max}"));
                min
            }
        }
    };
    let session_idle_minutes = number("session_idle_minutes", 1, 1440);
    let session_absolute_hours = number("session_absolute_hours", 1, 168);
    let signin_max_failures_per_account = number("signin_max_failures_per_account", 1, 1000) as u32;
    let signin_max_failures_per_ip = number("signin_max_failures_per_ip", 1, 100_000) as u32;
    let signin_failure_window_minutes = number("signin_failure_window_minutes", 1, 1440);
    let db_max_connections = number("db_max_connections", 1, 500) as u32;
    let body_limit_bytes = number("body_limit_bytes", 1024, 10 * 1024 * 1024) as usize;

    let (v, src) = get("secret_key");
    let secret_key = if v.is_empty() {
        None
    } else {
        match hex::decode(v.trim()) {
            Ok(bytes) if bytes.len() == 32 => {
                let mut key = [0u8; 32];
                key.copy_from_slice(&bytes);
                Some(SecretKey(key))
            }
            _ => {
                errors.push(format!(
                    "{src}: must be 64 hex digits (32 bytes); `openssl rand -hex 32` makes one"
                ));
                None
            }
        }
    };

    let (v, src) = get("default_phone_region");
    let default_phone_region = v.trim().to_ascii_uppercase();
    if !crate::phone::known_region(&default_phone_region) {
        errors.push(format!("{src}: `{v}` is not a region code like US or GB"));
    }

    let (v, src) = get("smtp_url");
    let smtp_url = if v.trim().is_empty() {
        None
    } else if v.starts_with("smtp://") || v.starts_with("smtps://") {
        Some(SecretString::from(v.trim().to_owned()))
    } else {
        errors.push(format!("{src}: must start with smtp:// or smtps://"));
        None
    };
    let (v, src) = get("smtp_from");
    let smtp_from = v.trim().to_owned();
    if smtp_from.parse::<lettre::message::Mailbox>().is_err() {
        errors.push(format!(
            "{src}: `{v}` is not an address like Tessera <tessera@example.com>"
        ));
    }

    let mut ranges = |(v, src): (String, String)| {
        AddressRanges::parse(&v).unwrap_or_else(|bad| {
            for entry in bad {
                errors.push(format!(
                    "{src}: `{entry}` is not an address or a CIDR range like 10.0.0.0/8"
                ));
            }
            AddressRanges::default()
        })
    };
    let trusted_proxies = ranges(get("trusted_proxies"));
    let metrics_from = ranges(get("metrics_from"));
    let (v, src) = get("forwarded_header");
    let forwarded_header = ForwardedHeader::parse(&v).unwrap_or_else(|| {
        errors.push(format!("{src}: `{v}` must be x-forwarded-for or forwarded"));
        ForwardedHeader::XForwardedFor
    });

    let (v, src) = get("metrics_token");
    let metrics_token = match v.trim() {
        "" => None,
        t if t.chars().count() < 16 => {
            errors.push(format!("{src}: use 16 characters or more"));
            None
        }
        t => Some(SecretString::from(t.to_owned())),
    };

    let (v, src) = get("log_format");
    let log_format = match v.as_str() {
        "pretty" => Some(LogFormat::Pretty),
        "json" => Some(LogFormat::Json),
        _ => {
            errors.push(format!("{src}: `{v}` must be pretty or json"));
            None
        }
    };

    match (database_url, listen, public_url, environment, log_format) {
        (Some(database_url), Some(listen), Some(public_url), Some(environment), Some(log_format))
            if errors.is_empty() =>
        {
            Ok(Config {
                database_url,
                listen,
                public_url,
                environment,
                site_root,
                session_idle_minutes,
                session_absolute_hours,
                signin_max_failures_per_account,
                signin_max_failures_per_ip,
                signin_failure_window_minutes,
                db_max_connections,
                body_limit_bytes,
                log_format,
                secret_key,
                default_phone_region,
                smtp_url,
                smtp_from,
                trusted_proxies,
                forwarded_header,
                metrics_from,
                metrics_token,
            })
        }
        _ => Err(errors),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_apply_and_database_url_falls_back() {
        let c = from_sources(&env(&[("DATABASE_URL", "postgres://a@127.0.0.1/db")]), None).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:3000");
        assert_eq!(c.session_idle_minutes, 30);
        assert!(!c.https());
        assert_eq!(c.database_url.expose_secret(), "postgres://a@127.0.0.1/db");
    }

    #[test]
    fn environment_overrides_file_and_file_overrides_defaults() {
        let file = "listen = \"127.0.0.1:4000\"\nsession_idle_minutes = 10\npublic_url = \"https://t.example.org/\"";
        let c = from_sources(
            &env(&[
                ("TESSERA_DATABASE_URL", "postgresql://x/y"),
                ("TESSERA_LISTEN", "0.0.0.0:5000"),
            ]),
            Some(file),
        )
        .unwrap();
        assert_eq!(c.listen.to_string(), "0.0.0.0:5000");
        assert_eq!(c.session_idle_minutes, 10);
        assert!(c.https());
        assert_eq!(c.public_origin(), "https://t.example.org");
    }

    #[test]
    fn every_bad_value_gets_its_own_message() {
        let errors = from_sources(
            &env(&[
                ("TESSERA_LISTEN", "nowhere"),
                ("TESSERA_SESSION_IDLE_MINUTES", "0"),
                ("TESSERA_LOG_FORMAT", "xml"),
                ("TESSERA_PUBLIC_URL", "ftp://x"),
                ("TESSERA_TRUSTED_PROXIES", "10.0.0.0/8, proxy.local"),
                ("TESSERA_FORWARDED_HEADER", "x-real-ip"),
            ]),
            Some("bogus = 1"),
        )
        .unwrap_err();
        let text = errors.join("\n");
        for needle in [
            "TESSERA_DATABASE_URL: required",
            "TESSERA_LISTEN",
            "TESSERA_SESSION_IDLE_MINUTES",
            "TESSERA_LOG_FORMAT",
            "TESSERA_PUBLIC_URL",
            "TESSERA_TRUSTED_PROXIES: `proxy.local` is not an address",
            "TESSERA_FORWARDED_HEADER: `x-real-ip`",
            "unknown setting `bogus`",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
        }
        assert_eq!(errors.len(), 8, "{text}");
    }
}
