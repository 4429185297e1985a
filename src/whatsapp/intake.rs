//! Stores the events of webhook requests that arrive together in one statement and one
//! durable commit (a group commit): a request waits for the commit that holds its events, as
//! before, and is answered 200 only then; but a burst of requests pays for one flush to disk
//! instead of one each, which is what bounds the intake.
//!
//! A few collectors each take whatever requests wait (at most [`MOST`]) and store them; while
//! one waits for its commit, the next requests gather for another. A group whose store fails
//! is stored again a request at a time, so one body the database refuses fails only its own
//! request (503, and Meta delivers it again).

use std::collections::HashSet;
use std::sync::Arc;

use sqlx::PgPool;
use tokio::sync::{Mutex, mpsc, oneshot};

use super::events::NewEvent;
use super::queue;

/// Requests stored together at most.
const MOST: usize = 64;
/// Groups stored at the same time.
const COLLECTORS: usize = 3;

type Request = (Vec<NewEvent>, oneshot::Sender<sqlx::Result<()>>);

/// Where the webhook hands a request's events; cheap to clone.
#[derive(Clone)]
pub struct Intake {
    requests: mpsc::Sender<Request>,
}

impl Intake {
    /// Starts the collectors, which end once every handle is dropped.
    pub fn start(pool: PgPool) -> Intake {
        let (requests, waiting) = mpsc::channel::<Request>(4 * MOST);
        let waiting = Arc::new(Mutex::new(waiting));
        for _ in 0..COLLECTORS {
            tokio::spawn(collect(pool.clone(), waiting.clone()));
        }
        Intake { requests }
    }

    /// Stores `events` (with those of the requests beside it) and returns once committed.
    pub async fn store(&self, events: Vec<NewEvent>) -> sqlx::Result<()> {
        let (done, stored) = oneshot::channel();
        if self.requests.send((events, done)).await.is_err() {
            return Err(sqlx::Error::PoolClosed);
        }
        stored.await.unwrap_or(Err(sqlx::Error::PoolClosed))
    }
}

async fn collect(pool: PgPool, waiting: Arc<Mutex<mpsc::Receiver<Request>>>) {
    loop {
        let mut group = Vec::new();
        {
            let mut waiting = waiting.lock().await;
            match waiting.recv().await {
                Some(request) => group.push(request),
                None => return,
            }
            while group.len() < MOST {
                match waiting.try_recv() {
                    Ok(request) => group.push(request),
                    Err(_) => break,
                }
            }
        }
        store_group(&pool, group).await;
    }
}

/// Stores a group in one statement; when that fails, each request alone.
async fn store_group(pool: &PgPool, group: Vec<Request>) {
    if group.len() > 1 {
        // A redelivery beside its original is left out here: one row per key, as ever.
        let mut keys = HashSet::new();
        let events: Vec<NewEvent> = group
            .iter()
            .flat_map(|(events, _)| events.iter())
            .filter(|e| keys.insert(e.key.as_str()))
            .cloned()
            .collect();
        if queue::store(pool, &events).await.is_ok() {
            for (_, done) in group {
                // The request may have gone (the client hung up): nothing to tell.
                let _ = done.send(Ok(()));
            }
            return;
        }
    }
    for (events, done) in group {
        let _ = done.send(queue::store(pool, &events).await);
    }
}
