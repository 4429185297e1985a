//! A local webhook receiver that records every signed POST, and an NPS answer that raises an
//! `nps_answer` event for it.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use sqlx::PgPool;
use tokio::net::TcpListener;

#[derive(Default)]
pub struct Receiver {
    /// (signature header, event id header, body) of every request.
    pub seen: Mutex<Vec<(String, String, String)>>,
    /// How many requests, from the first, find the receiver down.
    failures: usize,
}

async fn receive(State(r): State<Arc<Receiver>>, headers: HeaderMap, body: String) -> StatusCode {
    let header = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let mut seen = r.seen.lock().unwrap();
    seen.push((
        header("x-touchbot-signature"),
        header("x-touchbot-event-id"),
        body,
    ));
    if seen.len() <= r.failures {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    }
}

/// A receiver on a free local port whose first `failures` requests get a 500; its URL.
pub async fn a_receiver(failures: usize) -> (String, Arc<Receiver>) {
    let receiver = Arc::new(Receiver {
        failures,
        ..Receiver::default()
    });
    let app = Router::new()
        .route("/hook", post(receive))
        .with_state(receiver.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, receiver)
}

/// An NPS answer of `score` from the one contact of account 'Hooked' (both made if missing).
pub async fn an_nps_answer(pool: &PgPool, score: i16) {
    sqlx::raw_sql(
        "insert into accounts (name, segment, contract_start) values ('Hooked', 'smb', '2026-01-01')
             on conflict do nothing;
         insert into contacts (account_id, name, role, channel, address)
         select id, 'Dee', 'user', 'simulated', 'dee' from accounts
          where not exists (select 1 from contacts);",
    )
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "insert into replies (account_id, contact_id, channel, provider_message_id, received_at,
                              body, kind, score, comment)
         select c.account_id, c.id, 'simulated', 'm' || $1, now(), $1::text, 'nps', $1, 'fine'
           from contacts c",
    )
    .bind(score)
    .execute(pool)
    .await
    .unwrap();
}
