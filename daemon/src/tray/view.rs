//! What the tray shows for a daemon status: icon, SNI status, title and
//! tooltip. Pure, so that every state is tested without a bus.

use dspconnect::ipc::protocol::{SessionState, Status};

/// The item's StatusNotifierItem `Status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Urgency {
    Passive,
    Active,
    NeedsAttention,
}

/// Everything the item shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    /// A freedesktop icon name.
    pub icon: &'static str,
    pub urgency: Urgency,
    pub title: String,
    /// The tooltip's first line (the state in a few words).
    pub headline: String,
    /// The tooltip's other lines.
    pub details: Vec<String>,
}

impl View {
    pub fn description(&self) -> String {
        let mut lines = vec![self.headline.clone()];
        lines.extend(self.details.iter().cloned());
        lines.join("\n")
    }
}

/// The view of `status`, with the last upload error if one is shown.
pub fn view(status: Option<&Status>, last_error: Option<&str>) -> View {
    let Some(status) = status else {
        return View {
            icon: "network-offline",
            urgency: Urgency::Active,
            title: "dspconnect".into(),
            headline: "Starting…".into(),
            details: Vec::new(),
        };
    };
    let sandbox = if status.sandbox { " — SANDBOX" } else { "" };
    let title = format!("dspconnect{sandbox}");
    let name = status
        .session
        .professional
        .as_ref()
        .or(status.card.holder.as_ref())
        .map(|p| p.name.clone());
    let (mut icon, mut urgency, headline) = match status.session.state {
        SessionState::NoCard => ("media-removable", Urgency::Active, "No card".to_owned()),
        SessionState::CardPresent | SessionState::Locked | SessionState::Expired => (
            "changes-prevent",
            Urgency::Active,
            match &name {
                Some(n) => format!("Locked ({n}): unlock with the card's PIN"),
                None => "Locked: unlock with the card's PIN".to_owned(),
            },
        ),
        SessionState::PinpadPending => (
            "changes-prevent",
            Urgency::NeedsAttention,
            "Type the PIN on the card reader".to_owned(),
        ),
        SessionState::Unlocked => (
            "network-transmit-receive",
            Urgency::Active,
            "Connecting to the platform…".to_owned(),
        ),
        SessionState::Authenticated => (
            "security-high",
            Urgency::Active,
            match &name {
                Some(n) => format!("Ready as {n}"),
                None => "Ready".to_owned(),
            },
        ),
        SessionState::Expiring => (
            "appointment-soon",
            Urgency::NeedsAttention,
            "Session expiring: it could not be renewed yet".to_owned(),
        ),
        SessionState::Blocked => (
            "dialog-error",
            Urgency::NeedsAttention,
            "The card's PIN is blocked".to_owned(),
        ),
        SessionState::Password => (
            "security-medium",
            Urgency::Active,
            "Password session (no DSP documents)".to_owned(),
        ),
    };
    let mut details = Vec::new();
    if status.sandbox {
        details.push("SANDBOX: nothing reaches the real DSP".to_owned());
    }
    let pending = status.outbox.uploading + status.outbox.queued;
    if pending > 0 {
        details.push(format!(
            "Uploading {pending} document{}",
            if pending == 1 { "" } else { "s" }
        ));
        if urgency != Urgency::NeedsAttention {
            icon = "document-send";
        }
    }
    if status.outbox.waiting > 0 {
        details.push(format!("{} waiting for the session", status.outbox.waiting));
    }
    if let Some(e) = last_error {
        details.push(format!("Last error: {e}"));
        icon = "dialog-error";
        urgency = Urgency::NeedsAttention;
    }
    View {
        icon,
        urgency,
        title,
        headline,
        details,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dspconnect::ipc::protocol::{CardStatus, OutboxSummary, Professional, SessionInfo};

    pub(crate) fn status(state: SessionState) -> Status {
        Status {
            version: "0".into(),
            protocol: 1,
            sandbox: false,
            platform: "test".into(),
            card: CardStatus::default(),
            session: SessionInfo {
                state,
                lock_reason: None,
                professional: Some(Professional {
                    ehealth_id: "2854201475".into(),
                    name: "Dr Anne Muller".into(),
                    profession: None,
                    specialty: None,
                }),
                expires_at: None,
            },
            outbox: OutboxSummary::default(),
        }
    }

    #[test]
    fn each_state_has_its_words_and_icon() {
        let v = view(Some(&status(SessionState::NoCard)), None);
        assert_eq!(v.headline, "No card");
        let v = view(Some(&status(SessionState::Locked)), None);
        assert!(v.headline.starts_with("Locked"), "{v:?}");
        assert_eq!(v.icon, "changes-prevent");
        let v = view(Some(&status(SessionState::Authenticated)), None);
        assert_eq!(v.headline, "Ready as Dr Anne Muller");
        assert_eq!(v.urgency, Urgency::Active);
        let mut s = status(SessionState::Authenticated);
        s.outbox.uploading = 1;
        s.outbox.queued = 2;
        let v = view(Some(&s), None);
        assert_eq!(v.icon, "document-send");
        assert!(v.description().contains("Uploading 3 documents"), "{v:?}");
        let v = view(Some(&s), Some("report.pdf: access denied"));
        assert_eq!(v.urgency, Urgency::NeedsAttention);
        assert!(v.description().contains("Last error: report.pdf"), "{v:?}");
        s.sandbox = true;
        let v = view(Some(&s), None);
        assert!(v.title.contains("SANDBOX"));
        assert!(v.description().contains("SANDBOX"));
    }
}
