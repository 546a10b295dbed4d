//! Each SMS plugin's properties in `plugin_settings`: secrets sealed with
//! TESSERA_SECRET_KEY, the rest plain; every save names the version it
//! started from.

use super::providers::{self, Properties};
use crate::secrets::Sealer;
use serde_json::{Map, Value};
use sqlx::{PgExecutor, PgPool};

/// A plugin's stored properties, secrets opened, and the row's version
/// (0 when nothing is stored yet).
#[derive(Debug, Clone, Default)]
pub struct PluginRecord {
    pub properties: Properties,
    pub version: i64,
}

/// Why stored secrets could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(
        "the stored secrets of {0} cannot be opened: TESSERA_SECRET_KEY is not set or not the key they were sealed with"
    )]
    Sealed(String),
}

pub async fn plugin(db: impl PgExecutor<'_>, sealer: Option<&Sealer>, id: &str) -> Result<PluginRecord, SettingsError> {
    let row: Option<(Value, Option<Vec<u8>>, i64)> =
        sqlx::query_as("SELECT properties, sealed, version FROM plugin_settings WHERE plugin = $1")
            .bind(id)
            .fetch_optional(db)
            .await?;
    let Some((plain, sealed, version)) = row else {
        return Ok(PluginRecord::default());
    };
    let mut props = match plain {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    if let Some(sealed) = sealed {
        let opened = sealer
            .and_then(|s| s.open(id, &sealed))
            .and_then(|bytes| serde_json::from_slice::<Map<String, Value>>(&bytes).ok())
            .ok_or_else(|| SettingsError::Sealed(id.to_owned()))?;
        props.extend(opened);
    }
    Ok(PluginRecord {
        properties: Properties(props),
        version,
    })
}

/// Splits properties into the plain ones and the sealed box of the secret ones.
fn split(sealer: Option<&Sealer>, id: &str, props: &Map<String, Value>) -> Result<(Value, Option<Vec<u8>>), String> {
    let secret_names: Vec<&str> = providers::find(id)
        .map(|p| p.properties.iter().filter(|p| p.secret).map(|p| p.name).collect())
        .unwrap_or_default();
    let (secret, plain): (Map<String, Value>, Map<String, Value>) = props
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .partition(|(k, _)| secret_names.contains(&k.as_str()));
    let sealed = if secret.is_empty() {
        None
    } else {
        let sealer = sealer.ok_or_else(|| {
            "TESSERA_SECRET_KEY is not set on this server, so provider secrets cannot be stored. Set it and restart."
                .to_string()
        })?;
        let json = serde_json::to_vec(&secret).map_err(|e| e.to_string())?;
        Some(sealer.seal(id, &json))
    };
    Ok((Value::Object(plain), sealed))
}

/// What a save came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Saved {
    Done,
    /// Someone saved in between: nothing was written.
    Stale,
}

/// Stores a plugin's properties if its row is still at `version` (0: no row yet).
pub async fn store_plugin(
    db: impl PgExecutor<'_>,
    sealer: Option<&Sealer>,
    id: &str,
    props: &Map<String, Value>,
    version: i64,
) -> Result<Saved, String> {
    let (plain, sealed) = split(sealer, id, props)?;
    let done = sqlx::query(
        "INSERT INTO plugin_settings (plugin, properties, sealed, version) VALUES ($1, $2, $3, 1)
         ON CONFLICT (plugin) DO UPDATE SET properties = EXCLUDED.properties, sealed = EXCLUDED.sealed,
             version = plugin_settings.version + 1
         WHERE plugin_settings.version = $4",
    )
    .bind(id)
    .bind(plain)
    .bind(sealed)
    .bind(version)
    .execute(db)
    .await
    .map_err(|e| format!("saving: {e}"))?;
    // A first save racing another first save: the loser's INSERT conflicts
    // and its version (0) matches no row.
    Ok(if done.rows_affected() == 1 {
        Saved::Done
    } else {
        Saved::Stale
    })
}

/// Seals secrets that an older version stored in the clear. Runs at start;
/// without a configured key it only warns.
pub async fn seal_plain_secrets(pool: &PgPool, sealer: Option<&Sealer>) -> anyhow::Result<()> {
    let rows: Vec<(String, Value, Option<Vec<u8>>)> =
        sqlx::query_as("SELECT plugin, properties, sealed FROM plugin_settings")
            .fetch_all(pool)
            .await?;
    for (id, plain, sealed) in rows {
        let Value::Object(plain) = plain else { continue };
        let Some(info) = providers::find(&id) else { continue };
        let exposed = info.properties.iter().any(|p| p.secret && plain.contains_key(p.name));
        if !exposed {
            continue;
        }
        let Some(sealer) = sealer else {
            tracing::warn!(plugin = %id, "provider secrets are stored unsealed; set TESSERA_SECRET_KEY to seal them");
            continue;
        };
        let mut all = plain;
        if let Some(sealed) = sealed {
            let opened = sealer
                .open(&id, &sealed)
                .and_then(|b| serde_json::from_slice::<Map<String, Value>>(&b).ok())
                .ok_or_else(|| anyhow::anyhow!("the sealed secrets of {id} cannot be opened with this key"))?;
            all.extend(opened);
        }
        let (plain, sealed) = split(Some(sealer), &id, &all).map_err(anyhow::Error::msg)?;
        sqlx::query("UPDATE plugin_settings SET properties = $2, sealed = $3 WHERE plugin = $1")
            .bind(&id)
            .bind(plain)
            .bind(sealed)
            .execute(pool)
            .await?;
        tracing::info!(plugin = %id, "sealed provider secrets stored by an older version");
    }
    Ok(())
}
