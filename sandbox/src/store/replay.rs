//! The replay cache: `wsa:MessageID`s seen by the IdP within the freshness
//! window. A MessageID seen again inside the window is a replay.

use rusqlite::params;
use time::{Duration, OffsetDateTime};

use super::{During, Result, Store, unix};

impl Store {
    /// Records `message_id` as seen at `now`; `true` if it was new, `false`
    /// if it was already seen less than `window` ago (a replay). Entries
    /// older than the window are forgotten on the way.
    pub fn remember_message_id(
        &self,
        message_id: &str,
        now: OffsetDateTime,
        window: Duration,
    ) -> Result<bool> {
        self.with(|connection| {
            let transaction = connection
                .transaction()
                .during("checking the replay cache")?;
            transaction
                .execute(
                    "DELETE FROM replay_cache WHERE seen_at <= ?1",
                    [unix(now - window)],
                )
                .during("pruning the replay cache")?;
            let inserted = transaction
                .execute(
                    "INSERT OR IGNORE INTO replay_cache (message_id, seen_at) VALUES (?1, ?2)",
                    params![message_id, unix(now)],
                )
                .during("recording a MessageID")?;
            transaction.commit().during("checking the replay cache")?;
            Ok(inserted == 1)
        })
    }
}
