//! Where cookie sessions are kept: tower-sessions' PostgreSQL store, with a
//! new session written in one statement.
//!
//! The library's store creates a session in a transaction that first asks
//! whether the id is taken (BEGIN, SELECT, INSERT, COMMIT: four round trips
//! on every sign-in, sign-out and first visit), and the question does not
//! even guard against a concurrent insert of the same id. Here the insert
//! itself refuses a taken id (`ON CONFLICT DO NOTHING`) and a new id is
//! drawn; the rows, their encoding and everything else are the library's.

use async_trait::async_trait;
use sqlx::PgPool;
use tower_sessions::SessionStore;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion};
use tower_sessions_sqlx_store::PostgresStore;

/// The session store the server runs with.
#[derive(Clone, Debug)]
pub struct Sessions {
    store: PostgresStore,
    pool: PgPool,
}

impl Sessions {
    pub fn new(pool: PgPool) -> Self {
        Self {
            store: PostgresStore::new(pool.clone()),
            pool,
        }
    }
}

fn backend(e: impl std::fmt::Display) -> session_store::Error {
    session_store::Error::Backend(e.to_string())
}

#[async_trait]
impl SessionStore for Sessions {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        loop {
            // (The encoded record holds its id.)
            let data = rmp_serde::to_vec(&*record).map_err(|e| session_store::Error::Encode(e.to_string()))?;
            let inserted = sqlx::query(
                r#"INSERT INTO "tower_sessions"."session" (id, data, expiry_date) VALUES ($1, $2, $3)
                   ON CONFLICT (id) DO NOTHING"#,
            )
            .bind(record.id.to_string())
            .bind(&data)
            .bind(record.expiry_date)
            .execute(&self.pool)
            .await
            .map_err(backend)?
            .rows_affected();
            if inserted == 1 {
                return Ok(());
            }
            // 128 random bits taken: never seen, but a session is never
            // written over another.
            record.id = Id::default();
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.store.save(record).await
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        self.store.load(id).await
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.store.delete(id).await
    }
}

#[async_trait]
impl ExpiredDeletion for Sessions {
    async fn delete_expired(&self) -> session_store::Result<()> {
        self.store.delete_expired().await
    }
}
