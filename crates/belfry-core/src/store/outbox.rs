//! The outbox: operations made locally (marks read, settings patches)
//! waiting for the server, in order, across restarts.

use super::*;

/// An operation made locally that the server has not confirmed yet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// Mark these read.
    MarkRead {
        /// Notification ids.
        ids: Vec<String>,
    },
    /// Mark everything up to a sequence read.
    MarkAllRead {
        /// Highest sequence the user saw.
        up_to_seq: u64,
    },
    /// A settings edit.
    Settings {
        /// The changed fields.
        patch: Patch,
    },
}

impl Store {
    /// Queues an operation.
    pub fn push(&self, op: &Op) -> Result<()> {
        let conn = self.lock();
        push_op(&conn, op)
    }

    /// The oldest queued operation.
    pub fn peek(&self) -> Result<Option<(i64, Op)>> {
        let conn = self.lock();
        let row: Option<(i64, String)> = conn
            .query_row("SELECT id, op FROM outbox ORDER BY id LIMIT 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        row.map(|(id, op)| Ok((id, serde_json::from_str(&op)?)))
            .transpose()
    }

    /// Every queued operation, oldest first.
    pub fn outbox(&self) -> Result<Vec<(i64, Op)>> {
        let conn = self.lock();
        let mut stmt = conn.prepare("SELECT id, op FROM outbox ORDER BY id")?;
        let rows: Vec<(i64, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        rows.into_iter()
            .map(|(id, op)| Ok((id, serde_json::from_str(&op)?)))
            .collect()
    }

    /// Replaces a queued operation (a settings patch that lost refused fields).
    pub fn replace(&self, id: i64, op: &Op) -> Result<()> {
        let conn = self.lock();
        conn.execute(
            "UPDATE outbox SET op = ?2 WHERE id = ?1",
            params![id, serde_json::to_string(op)?],
        )?;
        Ok(())
    }

    /// Removes a confirmed operation.
    pub fn pop(&self, id: i64) -> Result<()> {
        let conn = self.lock();
        conn.execute("DELETE FROM outbox WHERE id = ?1", [id])?;
        Ok(())
    }
}

pub(super) fn push_op(conn: &Connection, op: &Op) -> Result<()> {
    conn.execute(
        "INSERT INTO outbox (op, created_at) VALUES (?1, ?2)",
        params![serde_json::to_string(op)?, ts(Utc::now())],
    )?;
    Ok(())
}
