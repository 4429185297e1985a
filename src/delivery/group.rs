//! Group commit: the `sending` marks and settles that concurrent deliveries ask for at about
//! the same time go to PostgreSQL as one statement. Each delivery still waits for its own
//! answer, so nothing is handed to a channel before its mark is committed.

use std::future::Future;

use tokio::sync::{mpsc, oneshot};

type Request<T, R> = (T, oneshot::Sender<R>);

/// Where deliveries hand in their requests.
pub(crate) struct Group<T, R> {
    tx: mpsc::UnboundedSender<Request<T, R>>,
}

/// What drains a [`Group`]: ends once every handle to the group is dropped.
pub(crate) struct Drain<T, R> {
    rx: mpsc::UnboundedReceiver<Request<T, R>>,
}

pub(crate) fn group<T, R>() -> (Group<T, R>, Drain<T, R>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (Group { tx }, Drain { rx })
}

impl<T, R> Group<T, R> {
    /// Hands in one request and waits for its answer.
    pub(crate) async fn submit(&self, item: T) -> R {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send((item, reply))
            .unwrap_or_else(|_| unreachable!("the drain outlives every group handle"));
        answer
            .await
            .unwrap_or_else(|_| unreachable!("the drain answers every request"))
    }
}

impl<T, R> Drain<T, R> {
    /// Runs `batch` on whatever requests are waiting, as often as some are, until the group
    /// is dropped. `batch` answers every request, in their order.
    pub(crate) async fn run<F, Fut>(mut self, mut batch: F)
    where
        F: FnMut(Vec<T>) -> Fut,
        Fut: Future<Output = Vec<R>>,
    {
        while let Some(first) = self.rx.recv().await {
            let mut waiting = vec![first];
            while let Ok(more) = self.rx.try_recv() {
                waiting.push(more);
            }
            let (items, replies): (Vec<T>, Vec<_>) = waiting.into_iter().unzip();
            let answers = batch(items).await;
            debug_assert_eq!(answers.len(), replies.len());
            for (reply, answer) in replies.into_iter().zip(answers) {
                // A delivery that stopped waiting has nothing left to do with its answer.
                let _ = reply.send(answer);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn requests_made_together_are_answered_in_one_batch_each_with_its_own_answer() {
        let (g, drain) = group::<u32, u32>();
        let mut sizes = Vec::new();
        let asks = async {
            let answers = futures::future::join_all((1..=4).map(|n| g.submit(n))).await;
            drop(g);
            answers
        };
        let (answers, ()) = tokio::join!(
            asks,
            drain.run(|items| {
                sizes.push(items.len());
                async move { items.into_iter().map(|n| n * 10).collect() }
            })
        );
        assert_eq!(answers, vec![10, 20, 30, 40]);
        assert_eq!(sizes, vec![4]);
    }
}
