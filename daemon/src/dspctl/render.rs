//! Human-readable output: aligned tables and key/value blocks.

use dspconnect::ipc::protocol::*;

/// Columns padded to their widest cell (counted in characters, so that
/// accented names line up).
pub struct Table {
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: &[&'static str]) -> Self {
        Table {
            headers: headers.to_vec(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn render(&self) -> String {
        let columns = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate().take(columns) {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let headers: Vec<String> = self.headers.iter().map(|h| (*h).to_owned()).collect();
        for row in std::iter::once(&headers).chain(&self.rows) {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate().take(columns) {
                if i + 1 < columns {
                    let pad = widths[i] - cell.chars().count();
                    line.push_str(cell);
                    line.push_str(&" ".repeat(pad + 2));
                } else {
                    line.push_str(cell);
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// `key: value` lines with the values aligned.
pub fn key_values(pairs: &[(&str, String)]) -> String {
    let width = pairs
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    pairs
        .iter()
        .map(|(k, v)| format!("{k}:{}{v}\n", " ".repeat(width - k.chars().count() + 1)))
        .collect()
}

fn professional(p: &Professional) -> String {
    format!("{} ({})", p.name, p.ehealth_id)
}

fn snake(value: &impl serde::Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s.replace('_', " "),
        _ => "?".to_owned(),
    }
}

pub fn session(s: &SessionInfo) -> String {
    let mut text = snake(&s.state);
    if let Some(reason) = &s.lock_reason {
        text.push_str(&format!(" ({})", snake(reason)));
    }
    if let Some(p) = &s.professional {
        text.push_str(&format!(", {}", professional(p)));
    }
    if let Some(until) = &s.expires_at {
        text.push_str(&format!(", until {until}"));
    }
    text
}

pub fn status(s: &Status) -> String {
    let card = &s.card;
    let card_text = if !card.reader_present {
        "no reader".to_owned()
    } else if !card.card_present {
        format!(
            "no card in {}",
            card.reader.as_deref().unwrap_or("the reader")
        )
    } else {
        let mut t = card
            .holder
            .as_ref()
            .map(professional)
            .unwrap_or_else(|| "card present".to_owned());
        if let Some(reader) = &card.reader {
            t.push_str(&format!(" in {reader}"));
        }
        if card.pinpad {
            t.push_str(", pinpad");
        }
        if let Some(n) = card.pin_tries_left {
            t.push_str(&format!(", {n} PIN tries left"));
        }
        if card.blocked {
            t.push_str(", PIN BLOCKED");
        }
        if card.swapped {
            t.push_str(", a different card than the session's");
        }
        t
    };
    let o = &s.outbox;
    key_values(&[
        ("daemon", format!("{} (protocol {})", s.version, s.protocol)),
        (
            "platform",
            if s.sandbox {
                format!("{} — SANDBOX", s.platform)
            } else {
                s.platform.clone()
            },
        ),
        ("card", card_text),
        ("session", session(&s.session)),
        (
            "outbox",
            format!(
                "{} queued, {} uploading, {} waiting, {} failed, {} done",
                o.queued, o.uploading, o.waiting, o.failed, o.done
            ),
        ),
    ])
}

pub fn job(j: &Job) -> String {
    let mut pairs = vec![
        ("job", j.job_id.clone()),
        ("state", snake(&j.state)),
        ("document", j.unique_id.clone()),
        ("patient", j.patient.clone()),
        ("title", j.title.clone()),
        ("mode", j.mode.charter_name().to_owned()),
        ("professional", j.professional.clone()),
    ];
    if let Some(r) = &j.replaces {
        pairs.push(("replaces", r.clone()));
    }
    pairs.push(("attempts", j.attempts.to_string()));
    pairs.push(("progress", format!("{} / {} bytes", j.sent, j.size)));
    pairs.push(("created", j.created_at.clone()));
    pairs.push(("updated", j.updated_at.clone()));
    if let Some(e) = &j.error {
        pairs.push(("error", format!("{} [{}]", e.message, e.code.name())));
        if let Some(h) = &e.hint {
            pairs.push(("hint", h.clone()));
        }
    }
    key_values(&pairs)
}

pub fn jobs(list: &JobListResult) -> String {
    if list.jobs.is_empty() {
        return "no jobs\n".to_owned();
    }
    let mut t = Table::new(&["JOB", "STATE", "PATIENT", "MODE", "TITLE", "UPDATED"]);
    for j in &list.jobs {
        t.row(vec![
            j.job_id.clone(),
            snake(&j.state),
            j.patient.clone(),
            j.mode.charter_name().to_owned(),
            j.title.clone(),
            j.updated_at.clone(),
        ]);
    }
    t.render()
}

pub fn documents(list: &DocumentList) -> String {
    if list.documents.is_empty() {
        return format!("no documents for patient {}\n", list.patient);
    }
    let mut t = Table::new(&[
        "UNIQUE ID",
        "MODE",
        "TITLE",
        "AUTHOR",
        "CREATED",
        "SIZE",
        "STATUS",
    ]);
    for d in &list.documents {
        t.row(vec![
            d.unique_id.clone(),
            d.mode.charter_name().to_owned(),
            d.title.clone(),
            d.author.name.clone(),
            d.creation_time.clone(),
            d.size.to_string(),
            d.status.clone(),
        ]);
    }
    t.render()
}

pub fn document(d: &DocumentSummary) -> String {
    key_values(&[
        ("document", d.unique_id.clone()),
        ("patient", d.patient.clone()),
        ("title", d.title.clone()),
        ("mode", d.mode.charter_name().to_owned()),
        ("author", professional(&d.author)),
        ("status", d.status.clone()),
    ])
}

pub fn professionals(r: &HpdResult) -> String {
    if r.professionals.is_empty() {
        return "no professional found\n".to_owned();
    }
    let mut t = Table::new(&["EHEALTH ID", "NAME", "PROFESSION", "SPECIALTY"]);
    for p in &r.professionals {
        t.row(vec![
            p.ehealth_id.clone(),
            p.name.clone(),
            p.profession.clone().unwrap_or_default(),
            p.specialty.clone().unwrap_or_default(),
        ]);
    }
    t.render()
}

pub fn event(e: &Event) -> String {
    match e {
        Event::Card { card } => format!(
            "card     {}",
            if card.card_present {
                card.holder
                    .as_ref()
                    .map(professional)
                    .unwrap_or_else(|| "card present".to_owned())
            } else {
                "no card".to_owned()
            }
        ),
        Event::Session { session: s } => format!("session  {}", session(s)),
        Event::Job { job: j } => {
            let mut line = format!(
                "job      {} {} — {} (patient {}, {} / {} bytes)",
                j.job_id,
                snake(&j.state),
                j.title,
                j.patient,
                j.sent,
                j.size
            );
            if let Some(err) = &j.error {
                line.push_str(&format!(": {} [{}]", err.message, err.code.name()));
            }
            line
        }
        Event::Notice { message } => format!("notice   {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_accented_text() {
        let mut t = Table::new(&["A", "B"]);
        t.row(vec!["Privé".into(), "x".into()]);
        t.row(vec!["Normal".into(), "y".into()]);
        assert_eq!(t.render(), "A       B\nPrivé   x\nNormal  y\n");
    }

    #[test]
    fn key_values_align() {
        assert_eq!(
            key_values(&[("a", "1".into()), ("long", "2".into())]),
            "a:    1\nlong: 2\n"
        );
    }
}
