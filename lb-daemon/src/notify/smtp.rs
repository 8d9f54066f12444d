//! `smtp_alert` mail, as keepalived's `core/smtp.c` and
//! `vrrp/vrrp_notify.c` (`vrrp_smtp_notifier`, `vrrp_sync_smtp_notifier`)
//! send it:
//!
//! * only when `notification_email` lists recipients and `smtp_server` is set;
//! * envelope from `notification_email_from` (default `keepalived@<host>`) to
//!   every recipient, one mail whose `To:` lists them all;
//! * subject `[<router_id>] VRRP Instance <name> - Entering MASTER state`
//!   (`VRRP Group <name>` for a sync group; `- Stopping` on stop), the
//!   router id defaulting to the host name;
//! * headers Date, From, Subject, `X-Mailer: Keepalived` (kept so that mail
//!   filters written for keepalived still match) and To; the body is
//!   keepalived's one-line text (`=> VRRP Instance is now owning VRRP VIPs <=`);
//! * HELO name `smtp_helo_name`, default the host name; `smtp_connect_timeout`
//!   (default 30 s) bounds the connection, twice that the whole exchange;
//! * a mail that fails is logged and dropped, never retried.

use std::time::Duration;

use anyhow::{Context, Result};
use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, Mailboxes};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tracing::{info, warn};

use super::{Event, Hooks};
use crate::config::GlobalDefs;

/// keepalived's default `smtp_connect_timeout`, in seconds.
pub const DEFAULT_CONNECT_TIMEOUT: u32 = 30;

/// The SMTP port when `smtp_server` gives none.
pub const DEFAULT_PORT: u16 = 25;

/// One mail to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Alert {
    /// Subject line.
    pub subject: String,
    /// Message body.
    pub body: &'static str,
}

/// Where and how alerts are mailed; built once from `global_defs`.
#[derive(Debug)]
pub(super) struct Mailer {
    host: String,
    port: u16,
    from: Mailbox,
    to: Vec<Mailbox>,
    helo: String,
    router_id: String,
    timeout: Duration,
}

/// The local host name (keepalived's `get_local_name`).
fn local_name() -> String {
    hostname::get()
        .ok()
        .and_then(|name| name.into_string().ok())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

impl Mailer {
    /// The mail settings of `global`, or `None` when alerts cannot be sent
    /// (no recipients, no server, or an address that does not parse; the
    /// last is logged).
    pub(super) fn new(global: &GlobalDefs) -> Option<Mailer> {
        let server = global.smtp_server.as_ref()?;
        if global.notification_email.is_empty() {
            return None;
        }
        match Self::build(global, server.host.clone(), server.port) {
            Ok(mailer) => Some(mailer),
            Err(e) => {
                warn!("SMTP alerts disabled: {e:#}");
                None
            }
        }
    }

    fn build(global: &GlobalDefs, host: String, port: Option<u16>) -> Result<Mailer> {
        let host_name = local_name();
        let from = match &global.notification_email_from {
            Some(from) => from.clone(),
            None => format!("keepalived@{host_name}"),
        };
        let from: Mailbox = from
            .parse()
            .with_context(|| format!("notification_email_from `{from}`"))?;
        let to = global
            .notification_email
            .iter()
            .map(|to| {
                to.parse()
                    .with_context(|| format!("notification_email `{to}`"))
            })
            .collect::<Result<Vec<Mailbox>>>()?;
        let timeout = global
            .smtp_connect_timeout
            .unwrap_or(DEFAULT_CONNECT_TIMEOUT);
        Ok(Mailer {
            host,
            port: port.unwrap_or(DEFAULT_PORT),
            from,
            to,
            helo: global
                .smtp_helo_name
                .clone()
                .unwrap_or_else(|| host_name.clone()),
            router_id: global.router_id.clone().unwrap_or(host_name),
            timeout: Duration::from_secs(u64::from(timeout.max(1))),
        })
    }

    /// keepalived's subject and body for `event` of `hooks`.
    pub(super) fn alert(&self, hooks: &Hooks<'_>, event: Event) -> Alert {
        let what = match event {
            Event::Master => "Entering MASTER state",
            Event::Backup => "Entering BACKUP state",
            Event::Fault => "Entering FAULT state",
            Event::Stop => "Stopping",
        };
        let body = match (hooks.group, event) {
            (false, Event::Master) => "=> VRRP Instance is now owning VRRP VIPs <=",
            (false, Event::Backup | Event::Fault) => {
                "=> VRRP Instance is no longer owning VRRP VIPs <="
            }
            (false, Event::Stop) => "=> VRRP Instance stopping <=",
            (true, Event::Master) => "=> All VRRP group instances are now in MASTER state <=",
            (true, Event::Backup) => "=> All VRRP group instances are now in BACKUP state <=",
            (true, Event::Fault) => "=> All VRRP group instances are now in FAULT state <=",
            (true, Event::Stop) => "=> All VRRP group instances are now stopping <=",
        };
        let kind = if hooks.group { "Group" } else { "Instance" };
        Alert {
            subject: format!("[{}] VRRP {kind} {} - {what}", self.router_id, hooks.name),
            body,
        }
    }

    /// `host:port` of the relay, for logs.
    fn server(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// Sends `alert` once and logs the result, keepalived-style.
    pub(super) async fn send(&self, alert: Alert) {
        let server = self.server();
        match tokio::time::timeout(2 * self.timeout, self.try_send(&alert)).await {
            Ok(Ok(())) => info!(
                "SMTP alert successfully sent to {server}: {}",
                alert.subject
            ),
            Ok(Err(e)) => warn!(
                "Error sending SMTP alert to {server}: {e:#} ({})",
                alert.subject
            ),
            Err(_) => warn!(
                "Timeout sending SMTP alert to {server} after {}s ({})",
                2 * self.timeout.as_secs(),
                alert.subject
            ),
        }
    }

    async fn try_send(&self, alert: &Alert) -> Result<()> {
        let message = self.message(alert)?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(self.host.as_str())
            .port(self.port)
            .timeout(Some(self.timeout))
            .hello_name(ClientId::Domain(self.helo.clone()))
            .build();
        transport.send(message).await?;
        Ok(())
    }

    fn message(&self, alert: &Alert) -> Result<Message> {
        let to: Mailboxes = self.to.iter().cloned().collect();
        Ok(Message::builder()
            .date_now()
            .from(self.from.clone())
            .subject(alert.subject.clone())
            .header(XMailer)
            .mailbox(lettre::message::header::To::from(to))
            .header(ContentType::TEXT_PLAIN)
            .body(format!("{}\r\n", alert.body))?)
    }
}

/// The `X-Mailer: Keepalived` header keepalived puts in its alerts.
#[derive(Debug, Clone, Copy)]
struct XMailer;

impl Header for XMailer {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("X-Mailer")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(XMailer)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "Keepalived".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SmtpServer;

    fn global() -> GlobalDefs {
        GlobalDefs {
            router_id: Some("lb1".into()),
            notification_email: vec!["a@example.com".into(), "Ops <ops@example.com>".into()],
            notification_email_from: Some("ka@example.com".into()),
            smtp_server: Some(SmtpServer {
                host: "::1".into(),
                port: None,
            }),
            ..GlobalDefs::default()
        }
    }

    fn hooks(group: bool) -> Hooks<'static> {
        Hooks {
            group,
            name: "VI_1",
            master: None,
            backup: None,
            fault: None,
            stop: None,
            generic: None,
            smtp_alert: true,
        }
    }

    #[test]
    fn needs_recipients_and_a_server() {
        assert!(Mailer::new(&GlobalDefs::default()).is_none());
        let mut no_server = global();
        no_server.smtp_server = None;
        assert!(Mailer::new(&no_server).is_none());
        let mut bad = global();
        bad.notification_email.push("not an address".into());
        assert!(Mailer::new(&bad).is_none());
        let mailer = Mailer::new(&global()).unwrap();
        assert_eq!(mailer.server(), "[::1]:25");
        assert_eq!(mailer.timeout, Duration::from_secs(30));
    }

    #[test]
    fn keepalived_subjects() {
        let mailer = Mailer::new(&global()).unwrap();
        let alert = mailer.alert(&hooks(false), Event::Master);
        assert_eq!(
            alert.subject,
            "[lb1] VRRP Instance VI_1 - Entering MASTER state"
        );
        assert_eq!(alert.body, "=> VRRP Instance is now owning VRRP VIPs <=");
        let alert = mailer.alert(&hooks(true), Event::Stop);
        assert_eq!(alert.subject, "[lb1] VRRP Group VI_1 - Stopping");
        let message = String::from_utf8(mailer.message(&alert).unwrap().formatted()).unwrap();
        assert!(message.contains("X-Mailer: Keepalived\r\n"), "{message}");
        assert!(
            message.contains("To: a@example.com, Ops <ops@example.com>\r\n"),
            "{message}"
        );
    }
}
