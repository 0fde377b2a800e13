//! The mail outbox: what the platform would e-mail (activation confirmation
//! codes). The sandbox sends nothing; tests and people read it here.

use rusqlite::params;
use time::OffsetDateTime;

use super::{During, Result, Store, from_unix, unix};

/// One e-mail in the outbox.
#[derive(Clone, PartialEq, Eq)]
pub struct Mail {
    pub id: i64,
    pub recipient: String,
    pub subject: String,
    /// May carry a confirmation code: not shown by `Debug`.
    pub body: String,
    pub created_at: OffsetDateTime,
}

impl std::fmt::Debug for Mail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mail")
            .field("id", &self.id)
            .field("recipient", &self.recipient)
            .field("subject", &self.subject)
            .field("body", &format_args!("<{} bytes>", self.body.len()))
            .finish()
    }
}

impl Store {
    /// Puts an e-mail in the outbox.
    pub fn queue_mail(
        &self,
        recipient: &str,
        subject: &str,
        body: &str,
        now: OffsetDateTime,
    ) -> Result<i64> {
        self.with(|connection| {
            connection
                .execute(
                    "INSERT INTO mail_outbox (recipient, subject, body, created_at) VALUES (?1, ?2, ?3, ?4)",
                    params![recipient, subject, body, unix(now)],
                )
                .during("queueing an e-mail")?;
            Ok(connection.last_insert_rowid())
        })
    }

    /// The e-mails to `recipient` (all when `None`), oldest first.
    pub fn outbox(&self, recipient: Option<&str>) -> Result<Vec<Mail>> {
        self.with(|connection| {
            let mut statement = connection
                .prepare(
                    "SELECT id, recipient, subject, body, created_at FROM mail_outbox \
                     WHERE ?1 IS NULL OR recipient = ?1 ORDER BY id",
                )
                .during("reading the mail outbox")?;
            let rows = statement
                .query_map([recipient], |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, String>(3)?,
                        row.get::<_, i64>(4)?,
                    ))
                })
                .during("reading the mail outbox")?;
            rows.map(|row| {
                let (id, recipient, subject, body, created_at) =
                    row.during("reading the mail outbox")?;
                Ok(Mail {
                    id,
                    recipient,
                    subject,
                    body,
                    created_at: from_unix(created_at, "e-mail time")?,
                })
            })
            .collect()
        })
    }
}
