//! The open-file limit: every stream is a socket, so the descriptors a
//! process may open bound how many streams a node holds. The binary raises
//! its soft limit to the hard one at start; the node caps its streams below
//! what is left after a reserve for everything else, so REST, the database
//! and the accept loop keep working when the streams are at their cap.

/// Descriptors kept for what is not a stream (REST connections, the
/// database, the log, the update feed), at most this many.
const MAX_RESERVE: u64 = 1024;

/// The limit before and after [`raise`].
#[derive(Debug, Clone, Copy)]
pub struct Raised {
    /// The soft limit found at start.
    pub before: u64,
    /// The soft limit now in force.
    pub now: u64,
}

/// Raises the soft open-file limit as far as the hard limit (and on macOS
/// the kernel's per-process maximum) allows. `None` where the platform has
/// no such limit (Windows) or it cannot be read.
pub fn raise() -> Option<Raised> {
    let before = current()?;
    #[cfg(unix)]
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(now) => Some(Raised { before, now }),
        Err(error) => {
            tracing::warn!(%error, "the open-file limit could not be raised");
            Some(Raised {
                before,
                now: before,
            })
        }
    }
    #[cfg(not(unix))]
    Some(Raised {
        before,
        now: before,
    })
}

/// The soft open-file limit in force, if the platform has one.
pub fn current() -> Option<u64> {
    #[cfg(unix)]
    {
        rlimit::getrlimit(rlimit::Resource::NOFILE)
            .ok()
            .map(|(soft, _)| soft)
    }
    #[cfg(not(unix))]
    None
}

/// How many streams fit under `limit` open files, with the reserve (an
/// eighth of the limit, at most [`MAX_RESERVE`]) left for the rest.
pub fn streams_for(limit: u64) -> usize {
    let reserve = (limit / 8).clamp(16, MAX_RESERVE);
    usize::try_from(limit.saturating_sub(reserve))
        .unwrap_or(usize::MAX)
        .max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reserve_is_an_eighth_up_to_a_thousand() {
        assert_eq!(streams_for(1024), 896);
        assert_eq!(streams_for(20_000), 18_976);
        assert_eq!(streams_for(1 << 20), (1 << 20) - 1024);
        assert_eq!(streams_for(0), 1);
    }
}
