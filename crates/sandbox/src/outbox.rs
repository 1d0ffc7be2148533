//! The sandbox's outbox: every mail the Education Cloud sends (activation
//! and password-reset links) is stored and shown at `/outbox` (HTML, newest
//! first, links clickable) and `/api/sandbox/outbox` (JSON, for tests). With
//! an SMTP URL configured (`smtp://host:port`, `smtps://…`, see lettre's
//! `from_url`) each mail is also delivered through that server; a delivery
//! failure is logged and never fails the request that caused the mail.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use educloud_contract::wire::OutboxMail;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::cloud::db::Db;
use crate::cloud::pages::{escape, page};
use crate::cloud::problem::ApiError;
use crate::cloud::tokens::rfc3339;

/// The sender of every sandbox mail.
pub const FROM: &str = "教育雲 示範環境 <no-reply@educloud-sandbox.test>";

/// A mail to send.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    /// Plain text.
    pub body: String,
    /// The links in `body`, in order.
    pub links: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("invalid SMTP URL: {0}")]
    SmtpUrl(String),
    #[error("outbox storage: {0}")]
    Store(#[from] rusqlite::Error),
}

impl OutboxError {
    pub fn code(&self) -> &'static str {
        match self {
            OutboxError::SmtpUrl(_) => "outbox.smtp_url",
            OutboxError::Store(_) => "outbox.store",
        }
    }
}

struct SmtpRelay {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

/// Stores mail and optionally relays it.
pub struct Outbox {
    db: Db,
    smtp: Option<SmtpRelay>,
}

impl Outbox {
    pub fn new(db: Db, smtp_url: Option<&str>) -> Result<Outbox, OutboxError> {
        let smtp = match smtp_url {
            None => None,
            Some(url) => {
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| OutboxError::SmtpUrl(e.to_string()))?
                    .build();
                let from = FROM
                    .parse::<Mailbox>()
                    .map_err(|e| OutboxError::SmtpUrl(e.to_string()))?;
                Some(SmtpRelay { transport, from })
            }
        };
        Ok(Outbox { db, smtp })
    }

    /// Stores `mail` (sent at Unix time `now`) and, with SMTP configured,
    /// hands it to the relay in the background. Returns the outbox id.
    pub fn send(&self, mail: Mail, now: i64) -> Result<i64, OutboxError> {
        let links = serde_json::to_string(&mail.links).unwrap_or_else(|_| "[]".into());
        let id = {
            let conn = self.db.lock();
            conn.execute(
                "INSERT INTO outbox (to_addr, subject, body, links, sent_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                rusqlite::params![mail.to, mail.subject, mail.body, links, now],
            )?;
            conn.last_insert_rowid()
        };
        tracing::info!(id, subject = %mail.subject, "mail stored in the sandbox outbox");
        if let Some(relay) = &self.smtp {
            self.relay(relay, mail);
        }
        Ok(id)
    }

    fn relay(&self, relay: &SmtpRelay, mail: Mail) {
        let to = match mail.to.parse::<Mailbox>() {
            Ok(to) => to,
            Err(e) => {
                tracing::warn!(error = %e, "outbox: recipient not deliverable by SMTP");
                return;
            }
        };
        let message = Message::builder()
            .from(relay.from.clone())
            .to(to)
            .subject(mail.subject)
            .header(ContentType::TEXT_PLAIN)
            // Quoted-printable keeps the links readable in the raw message.
            .body(
                Body::new_with_encoding(mail.body, ContentTransferEncoding::QuotedPrintable)
                    .unwrap_or_else(Body::new),
            );
        let message = match message {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "outbox: cannot build the SMTP message");
                return;
            }
        };
        let transport = relay.transport.clone();
        tokio::spawn(async move {
            match transport.send(message).await {
                Ok(_) => tracing::info!("outbox: mail delivered over SMTP"),
                Err(e) => tracing::warn!(error = %e, "outbox: SMTP delivery failed"),
            }
        });
    }

    /// Every stored mail, newest first.
    pub fn list(&self) -> Result<Vec<OutboxMail>, OutboxError> {
        let conn = self.db.lock();
        let mut stmt = conn.prepare(
            "SELECT id, to_addr, subject, body, links, sent_at FROM outbox ORDER BY id DESC",
        )?;
        let rows = stmt.query_map([], |row| {
            let links: String = row.get(4)?;
            Ok(OutboxMail {
                id: row.get(0)?,
                to: row.get(1)?,
                subject: row.get(2)?,
                body: row.get(3)?,
                links: serde_json::from_str(&links).unwrap_or_default(),
                sent_at: rfc3339(row.get(5)?),
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }
}

/// `/outbox` and `/api/sandbox/outbox`.
pub fn routes(outbox: Arc<Outbox>) -> Router {
    Router::new()
        .route("/outbox", get(outbox_page))
        .route("/api/sandbox/outbox", get(outbox_json))
        .with_state(outbox)
}

async fn outbox_json(State(outbox): State<Arc<Outbox>>) -> Result<Json<Vec<OutboxMail>>, ApiError> {
    outbox
        .list()
        .map(Json)
        .map_err(|e| ApiError::internal(e.to_string()))
}

async fn outbox_page(State(outbox): State<Arc<Outbox>>) -> Response {
    let mails = match outbox.list() {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(error = %e, "outbox listing failed");
            return page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "寄件匣 Outbox",
                "<h1 class=\"err\">無法讀取寄件匣 / Cannot read the outbox</h1>",
            );
        }
    };
    let mut html = String::from(
        "<h1>寄件匣 Outbox</h1><p class=\"meta\">示範環境寄出的所有郵件（最新的在最上面）。\
         Every mail the sandbox sent, newest first. Nothing here leaves this computer \
         unless an SMTP server was configured.</p>",
    );
    if mails.is_empty() {
        html.push_str("<p id=\"outbox-empty\">目前沒有郵件。 No mail yet.</p>");
    }
    for m in &mails {
        html.push_str(&format!(
            "<section class=\"mail\" id=\"mail-{id}\"><div class=\"meta\">#{id} · {sent} · \
             收件者 To: {to}</div><h2>{subject}</h2><pre>{body}</pre>",
            id = m.id,
            sent = escape(&m.sent_at),
            to = escape(&m.to),
            subject = escape(&m.subject),
            body = escape(&m.body),
        ));
        if !m.links.is_empty() {
            html.push_str("<ul>");
            for link in &m.links {
                let l = escape(link);
                html.push_str(&format!("<li><a href=\"{l}\">{l}</a></li>"));
            }
            html.push_str("</ul>");
        }
        html.push_str("</section>");
    }
    page(StatusCode::OK, "寄件匣 Outbox", &html)
}
