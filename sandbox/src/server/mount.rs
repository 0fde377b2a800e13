//! How a platform service (IdP, XDS.b, portal, …) plugs into the server: it
//! hands over a [`Router`] with the endpoints it serves, described for the
//! sandbox's index page.

use axum::Router;

/// One endpoint as listed on the index page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub method: &'static str,
    pub path: String,
    pub description: String,
}

/// A service's routes, merged into the sandbox's router at start.
#[derive(Debug)]
pub struct Mount {
    pub(crate) router: Router,
    pub(crate) endpoints: Vec<Endpoint>,
    pub(crate) body_limit: Option<usize>,
}

impl Mount {
    /// Mounts `router` (its paths are absolute, e.g.
    /// `/SAML2Server/AuthenticationService`).
    pub fn new(router: Router) -> Self {
        Self {
            router,
            endpoints: Vec::new(),
            body_limit: None,
        }
    }

    /// Lists an endpoint on the index page.
    pub fn endpoint(
        mut self,
        method: &'static str,
        path: impl Into<String>,
        description: impl Into<String>,
    ) -> Self {
        self.endpoints.push(Endpoint {
            method,
            path: path.into(),
            description: description.into(),
        });
        self
    }

    /// Overrides the configured request body ceiling for these routes (an
    /// ITI-41 upload of a large document needs more than a login).
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = Some(bytes);
        self
    }
}
