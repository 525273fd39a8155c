//! A minimal blocking client for ClickHouse's HTTP interface (`POST /?database=…` with the SQL as body).

use std::time::Duration;

use crate::topology::{Auth, Node};
use crate::{Error, Result};

/// HTTP client shared by all nodes.
#[derive(Debug)]
pub struct Client {
    agent: ureq::Agent,
    auth: Option<Auth>,
}

impl Default for Client {
    fn default() -> Self {
        Self::new()
    }
}

impl Client {
    /// A client with a 120 s per-request timeout; HTTP error statuses are returned as ClickHouse errors.
    pub fn new() -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .into();
        Self { agent, auth: None }
    }

    /// A client that sends `auth` with every request.
    pub fn with_auth(auth: Option<Auth>) -> Self {
        Self {
            auth,
            ..Self::new()
        }
    }

    /// Runs one statement on `node` (optionally in `database`) and returns the response body.
    pub fn exec(&self, node: &Node, database: Option<&str>, sql: &str) -> Result<String> {
        let url = format!("{}/", node.host.trim_end_matches('/'));
        let mut request = self.agent.post(&url);
        if let Some(db) = database {
            request = request.query("database", db);
        }
        if let Some(auth) = &self.auth {
            request = request
                .header("X-ClickHouse-User", &auth.user)
                .header("X-ClickHouse-Key", &auth.password);
        }
        let fail = |message: String| Error::Node {
            node: node.name.clone(),
            message,
        };
        let response = request
            .send(sql)
            .map_err(|e| fail(format!("request to {url} failed: {e}")))?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .read_to_string()
            .map_err(|e| fail(format!("reading the response failed: {e}")))?;
        if status != 200 {
            return Err(fail(format!("http {status}: {}", body.trim())));
        }
        Ok(body)
    }
}
