//! Desktop notifications over `org.freedesktop.Notifications` (session bus).
//! A bus or server that is not there is logged once; notifications are
//! then dropped until it appears (the tray and the log still say it).

use std::collections::HashMap;

use zbus::Connection;
use zbus::zvariant::Value;

const DESTINATION: &str = "org.freedesktop.Notifications";
const PATH: &str = "/org/freedesktop/Notifications";

/// How urgent a notification is (the spec's `urgency` hint).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Low = 0,
    Normal = 1,
    Critical = 2,
}

/// One notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub summary: String,
    pub body: String,
    pub level: Level,
    pub icon: &'static str,
}

/// Sends notifications; connects on first use.
#[derive(Default)]
pub struct Notifier {
    connection: Option<Connection>,
    no_bus_logged: bool,
    no_server_logged: bool,
}

impl Notifier {
    pub async fn send(&mut self, n: &Notification) {
        if self.connection.is_none() {
            match Connection::session().await {
                Ok(c) => self.connection = Some(c),
                Err(error) => {
                    if !self.no_bus_logged {
                        self.no_bus_logged = true;
                        tracing::info!(%error, "no session D-Bus: desktop notifications are off");
                    }
                    return;
                }
            }
        }
        let Some(connection) = &self.connection else {
            return;
        };
        let mut hints: HashMap<&str, Value<'_>> = HashMap::new();
        hints.insert("urgency", Value::U8(n.level as u8));
        hints.insert("desktop-entry", Value::from("dspconnect"));
        let actions: Vec<&str> = Vec::new();
        let timeout: i32 = if n.level == Level::Critical { 0 } else { -1 };
        let result = connection
            .call_method(
                Some(DESTINATION),
                PATH,
                Some(DESTINATION),
                "Notify",
                &(
                    "dspconnect",
                    0u32,
                    n.icon,
                    n.summary.as_str(),
                    n.body.as_str(),
                    actions,
                    hints,
                    timeout,
                ),
            )
            .await;
        match result {
            Ok(_) => self.no_server_logged = false,
            Err(error) => {
                if !self.no_server_logged {
                    self.no_server_logged = true;
                    tracing::info!(%error, summary = %n.summary, "desktop notification not shown (no notification server)");
                }
            }
        }
    }
}
