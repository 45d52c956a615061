//! What the PostgreSQL tests of this crate share: the runtime, the connection to the test
//! cluster and the clock.

use tokio_postgres::{Client, NoTls};

/// A connection to `DATABASE_URL`, its driver spawned on the current runtime.
pub async fn connect() -> Client {
    let url = std::env::var("DATABASE_URL").expect(
        "DATABASE_URL is not set: start the test cluster with `eval \"$(scripts/pg.sh up)\"`",
    );
    let (client, connection) = tokio_postgres::connect(&url, NoTls).await.unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

pub fn now_ms() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    i64::try_from(d.as_millis()).unwrap()
}

/// Runs a scenario on a current-thread runtime (one connection, statements in order).
pub fn block_on(scenario: impl std::future::Future<Output = ()>) {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(scenario);
}
