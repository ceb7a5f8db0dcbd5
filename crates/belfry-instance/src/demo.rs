//! The demo generator: a realistic trickle of helpdesk events for one
//! operator, so the demo shows toasts, melodies and a filling inbox.

use crate::api::admin;
use crate::state::AppState;
use belfry_proto::api::EmitEvent;
use serde_json::json;
use std::time::Duration;

const CLIENTS: [&str; 10] = [
    "Olena Kovalenko",
    "Marcus Lee",
    "Priya Natarajan",
    "Tomás Ortega",
    "Aiko Tanaka",
    "Jonas Berg",
    "Fatima Zahra",
    "Grace O'Neill",
    "Dmitri Sokolov",
    "Ana Souza",
];

const SUBJECTS: [&str; 10] = [
    "Cannot log in after password reset",
    "Invoice shows the wrong VAT",
    "Delivery is two days late",
    "Refund for a duplicate charge",
    "App crashes on start",
    "How do I export my data?",
    "Wrong size received",
    "Change of billing address",
    "Promo code does not apply",
    "Account locked",
];

const MESSAGES: [&str; 6] = [
    "Any news on this?",
    "I attached the screenshot you asked for.",
    "Thanks, that worked!",
    "It happened again this morning.",
    "Could you call me back?",
    "Please escalate, this is urgent.",
];

/// A small xorshift generator: the demo needs variety, not cryptography.
struct Rng(u64);

impl Rng {
    fn seeded() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0x9E37_79B9, |d| d.as_nanos() as u64);
        Rng(nanos | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items
            .get(self.below(items.len()))
            .copied()
            .unwrap_or_default()
    }
}

/// One random event for `login`, weighted like a real shift: mostly new
/// tickets, chats and messages, some changes, a CSAT now and then, rarely an
/// SLA breach or a system problem.
fn next_event(rng: &mut Rng, login: &str) -> EmitEvent {
    let ticket = 4000 + rng.below(900);
    let chat = 9000 + rng.below(900);
    let client = rng.pick(&CLIENTS);
    let roll = rng.below(100);
    let (type_id, data) = match roll {
        0..=17 => (
            "ticket_created",
            json!({"ticket_id": ticket, "client": client, "subject": rng.pick(&SUBJECTS)}),
        ),
        18..=35 => ("chat_created", json!({"chat_id": chat, "client": client})),
        36..=49 => (
            "ticket_message",
            json!({"ticket_id": ticket, "client": client, "message": rng.pick(&MESSAGES)}),
        ),
        50..=55 => (
            "comment_created",
            json!({"ticket_id": ticket, "message": rng.pick(&MESSAGES)}),
        ),
        56..=61 => ("chat_reassign", json!({"chat_id": chat, "client": client})),
        62..=66 => (
            "ticket_reassign",
            json!({"ticket_id": ticket, "client": client}),
        ),
        67..=69 => (
            "send_transfer_chat",
            json!({"chat_id": chat, "client": client}),
        ),
        70..=73 => ("ticket_closed", json!({"ticket_id": ticket})),
        74..=76 => ("chat_closed", json!({"chat_id": chat})),
        77..=78 => (
            "ticket_reopened",
            json!({"ticket_id": ticket, "client": client}),
        ),
        79 => ("watcher_added", json!({"ticket_id": ticket})),
        80 => (
            "subject_change",
            json!({"ticket_id": ticket, "subject": rng.pick(&SUBJECTS)}),
        ),
        81 => ("ticket_status_name_changed", json!({"ticket_id": ticket})),
        82..=87 => {
            let score = 3 + rng.below(3);
            (
                "csat_received",
                json!({"chat_id": chat, "client": client, "score": score}),
            )
        }
        88..=89 => (
            "csat_negative",
            json!({"chat_id": chat, "client": client, "score": 1 + rng.below(2)}),
        ),
        90..=91 => (
            "sla_expired",
            json!({"ticket_id": ticket, "client": client}),
        ),
        92 => ("sla_time_in_status_exceeded", json!({"ticket_id": ticket})),
        93 => ("normative_response_warning", json!({"chat_id": chat})),
        94 => ("normative_response_overlimit", json!({"chat_id": chat})),
        95 => (
            "operator_mentioned",
            json!({"ticket_id": ticket, "message": "@you could you take a look?"}),
        ),
        96 => (
            "message_delivery_failed",
            json!({"chat_id": chat, "client": client, "message": "the client blocked the bot"}),
        ),
        97 => (
            "channel_disconnected",
            json!({"message": "Telegram bot token expired"}),
        ),
        98 => (
            "source_disconnected",
            json!({"message": "Web shop API key revoked"}),
        ),
        _ => (
            "channel_payment_needed",
            json!({"message": "Viber business account payment due in 3 days"}),
        ),
    };
    EmitEvent {
        operator: login.to_owned(),
        type_id: type_id.to_owned(),
        title: None,
        body: None,
        path: None,
        data: data.as_object().cloned().unwrap_or_default(),
    }
}

/// Emits an event for `login` every `every` until the server shuts down.
pub async fn run(state: AppState, login: String, every: Duration) {
    let mut rng = Rng::seeded();
    let mut shutdown = state.shutdown.clone();
    let mut ticker = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = shutdown.changed() => return,
        }
        let event = next_event(&mut rng, &login);
        let type_id = event.type_id.clone();
        match admin::emit_all(&state, vec![event]).await {
            Ok(n) => tracing::info!(%type_id, seq = n.first().map(|n| n.seq), "demo event"),
            Err(e) => tracing::warn!(error = %e, "demo event failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mix_covers_the_catalogue() {
        let mut rng = Rng(42);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..5000 {
            let e = next_event(&mut rng, "demo");
            assert!(belfry_proto::catalogue::type_def(&e.type_id).is_some());
            seen.insert(e.type_id);
        }
        assert!(seen.len() >= 22, "{seen:?}");
    }
}
