//! The health and metrics endpoint: `/livez`, `/readyz`, `/metrics` on `[server] listen`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::Utc;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::health::Health;

/// What the handlers read.
#[derive(Clone)]
pub(crate) struct ServerState {
    pub pool: PgPool,
    pub health: Arc<Health>,
}

/// Serves until `cancel`.
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    state: ServerState,
    cancel: CancellationToken,
) -> std::io::Result<()> {
    crate::events::recorder();
    let app = axum::Router::new()
        .route("/livez", get(livez))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state);
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { cancel.cancelled().await })
        .await
}

async fn livez(State(state): State<ServerState>) -> Response {
    match state.health.live() {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(why) => (StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n")).into_response(),
    }
}

async fn readyz(State(state): State<ServerState>) -> Response {
    let mut problems = Vec::new();
    let db = tokio::time::timeout(
        Duration::from_secs(2),
        crate::db::migrations_applied(&state.pool),
    )
    .await;
    let up = matches!(db, Ok(Ok(_)));
    crate::events::database_up(up);
    match db {
        Ok(Ok(true)) => {}
        Ok(Ok(false)) => problems.push("migrations are not applied".to_owned()),
        Ok(Err(e)) => problems.push(format!(
            "database unreachable: {}",
            crate::db::explain(&state.pool, &e).await
        )),
        Err(_) => problems.push(
            match crate::db::connect_failure(&state.pool, Duration::from_secs(2)).await {
                Some(cause) => format!("database did not answer within 2 s: {cause}"),
                None => "database did not answer within 2 s".to_owned(),
            },
        ),
    }
    if !state.health.migrated() {
        problems
            .push("this process has not finished applying the migrations (see its log)".to_owned());
    }
    if let Err(stale) = state.health.sources_ready(Utc::now()) {
        problems.extend(stale);
    }
    if problems.is_empty() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{}\n", problems.join("\n")),
        )
            .into_response()
    }
}

async fn metrics(State(state): State<ServerState>) -> Response {
    state.health.refresh_lag(Utc::now());
    let handle = crate::events::recorder();
    handle.run_upkeep();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
        .into_response()
}
