//! Delivery acknowledgements, written together: every stream's `ack` goes
//! to one writer that stores whatever has arrived in one transaction, while
//! the acks that come meanwhile wait for the next. A change for 10,000
//! operators brings 10,000 acks within a second; one transaction (and one
//! trip through the blocking pool) each was the instance's largest cost
//! after the sends (docs/benchmarks.md, "The instance under load").
//! Each stream still waits until its ack is stored, as before.

use crate::store::Store;
use tokio::sync::{mpsc, oneshot};

/// Acks stored per transaction at most.
const MAX_BATCH: usize = 2048;
/// Acks waiting for the writer before streams wait to hand theirs over.
const QUEUE: usize = 8192;

struct Ack {
    operator_id: i64,
    ids: Vec<String>,
    done: oneshot::Sender<Result<usize, String>>,
}

/// Hands acks to the writer task. Cheap to clone; the task ends with the
/// last clone.
#[derive(Clone)]
pub struct Acks {
    tx: mpsc::Sender<Ack>,
}

impl Acks {
    /// Starts the writer on `store`.
    pub fn start(store: Store) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(write(store, rx));
        Self { tx }
    }

    /// Stores that `operator_id`'s desktop showed `ids`; resolves once
    /// stored, with how many were newly marked.
    pub async fn ack(&self, operator_id: i64, ids: Vec<String>) -> Result<usize, String> {
        let (done, answer) = oneshot::channel();
        self.tx
            .send(Ack {
                operator_id,
                ids,
                done,
            })
            .await
            .map_err(|_| "the ack writer stopped".to_owned())?;
        answer
            .await
            .map_err(|_| "the ack writer stopped".to_owned())?
    }
}

async fn write(store: Store, mut rx: mpsc::Receiver<Ack>) {
    let mut batch = Vec::new();
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let items: Vec<(i64, Vec<String>)> = batch
            .iter_mut()
            .map(|a| (a.operator_id, std::mem::take(&mut a.ids)))
            .collect();
        let store = store.clone();
        let stored = tokio::task::spawn_blocking(move || store.acknowledge_many(&items))
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| e.to_string()));
        for (i, ack) in batch.drain(..).enumerate() {
            let answer = match &stored {
                Ok(counts) => Ok(counts.get(i).copied().unwrap_or(0)),
                Err(e) => Err(e.clone()),
            };
            // A stream that went away meanwhile does not need the answer.
            let _ = ack.done.send(answer);
        }
    }
}
