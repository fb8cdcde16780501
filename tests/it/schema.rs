use crate::support::TestDb;

#[tokio::test]
async fn migrations_create_the_warehouse_in_schema_ccc_and_are_idempotent() {
    let db = TestDb::empty().await;
    assert!(
        !ccc_sync::db::migrations_applied(&db.pool)
            .await
            .expect("query")
    );

    ccc_sync::db::migrate(&db.pool).await.expect("first run");
    ccc_sync::db::migrate(&db.pool)
        .await
        .expect("second run is a no-op");

    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'ccc' AND table_type = 'BASE TABLE' ORDER BY 1",
    )
    .fetch_all(&db.pool)
    .await
    .expect("query");
    for t in [
        "_sqlx_migrations",
        "agent_legs",
        "calls",
        "quarantined_records",
        "recordings",
        "sync_runs",
        "sync_state",
    ] {
        assert!(
            tables.iter().any(|x| x == t),
            "missing ccc.{t} in {tables:?}"
        );
    }
    let in_public: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'",
    )
    .fetch_one(&db.pool)
    .await
    .expect("query");
    assert_eq!(in_public, 0, "nothing lands in public");
    assert!(
        ccc_sync::db::migrations_applied(&db.pool)
            .await
            .expect("query")
    );
}
