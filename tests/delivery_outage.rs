//! PostgreSQL goes away while a message is with the channel: the channel took it, so what it
//! said must still be recorded once the database is back, not left for a person to settle.

mod common;
mod support;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use common::*;
use sqlx::PgPool;
use touchbot::channel::{Channel, Channels, Delivered, Lookup, OutboundMessage, SendError};
use touchbot::domain::ChannelKind;
use touchbot::outbound::dispatcher::deliver_due;
use touchbot::staff_posts::dispatcher::deliver_due_posts;
use touchbot::staff_posts::{NewPost, PostDelivery, PostKind, Recipient, enqueue};
use touchbot::storage::team_chat;

use support::tcp_proxy::{TcpProxy, behind_a_proxy};

/// A channel that takes every message, and cuts the test's database off for `outage` while
/// doing so, as a network partition would.
struct CutsTheDatabase {
    proxy: Arc<TcpProxy>,
    outage: Duration,
}

#[async_trait]
impl Channel for CutsTheDatabase {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Simulated
    }

    async fn send(&self, message: &OutboundMessage) -> Result<Delivered, SendError> {
        self.proxy.cut();
        let proxy = self.proxy.clone();
        let outage = self.outage;
        tokio::spawn(async move {
            tokio::time::sleep(outage).await;
            proxy.restore();
        });
        Ok(Delivered {
            provider_message_id: format!("m-{}", message.idempotency_key),
        })
    }

    async fn lookup(&self, _idempotency_key: &str) -> Lookup {
        Lookup::Unsupported
    }
}

async fn cutting_channel(pool: &PgPool) -> (Channels, PgPool) {
    let (proxy, proxied) = behind_a_proxy(pool).await;
    let channel = CutsTheDatabase {
        proxy: Arc::new(proxy),
        outage: Duration::from_secs(2),
    };
    let channels = Channels::new(config().rate_limits).with(Arc::new(channel));
    (channels, proxied)
}

#[sqlx::test]
async fn a_touch_sent_while_the_database_went_away_is_recorded_sent_once_it_is_back(pool: PgPool) {
    let acme = account(&pool, "Acme").await;
    let ann = contact(&pool, acme, "ann").await;
    let id = touch(&pool, acme, ann, "welcome", "welcome", t0()).await;
    let (channels, proxied) = cutting_channel(&pool).await;

    let report = deliver_due(&proxied, &channels, &PlainRenderer, &config(), "w", t0())
        .await
        .unwrap();

    assert_eq!((report.sent, report.errors), (1, 0), "{report:?}");
    assert_eq!(state(&pool, id).await.status, "sent");
}

#[sqlx::test]
async fn a_staff_post_made_while_the_database_went_away_is_recorded_sent_once_it_is_back(
    pool: PgPool,
) {
    team_chat::bind(&pool, ChannelKind::Simulated, "team", None, t0())
        .await
        .unwrap();
    let post = NewPost {
        idempotency_key: "card-1".into(),
        kind: PostKind::Escalation,
        escalation_id: None,
        account_id: None,
        recipient: Recipient::TeamChat,
        delivery: PostDelivery::Now,
        body: "Acme: NPS 3".into(),
        buttons: vec![],
        due_at: t0(),
    };
    let id = enqueue(&pool, &post, t0()).await.unwrap().unwrap();
    let (channels, proxied) = cutting_channel(&pool).await;

    let report = deliver_due_posts(&proxied, &channels, &config(), "w", t0())
        .await
        .unwrap();

    let status = sqlx::query_scalar!("select status from staff_posts where id = $1", id.0)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(status, "sent", "{report:?}");
}
