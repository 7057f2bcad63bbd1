//! Keys from a JWKS endpoint (an identity provider's), refreshed in the
//! background: the `jwks-rsa` of this toolkit, without its HTTP client.
//!
//! ```
//! use std::time::Duration;
//! use jwt_layer::jwks::JwksRefresher;
//! use jwt_layer::{JwkSet, Validator};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), jwt_layer::jwks::JwksError> {
//! # let published = serde_json::from_str::<JwkSet>(r#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","alg":"EdDSA","kid":"k1"}]}"#).unwrap();
//! // Fetch with the HTTP client your app already has (reqwest, hyper, …):
//! // `client.get(url).send().await?.json::<JwkSet>().await`.
//! let fetch = move || {
//!     let published = published.clone();
//!     async move { Ok::<_, String>(published) }
//! };
//!
//! // At start-up: no keys, no service (the first fetch must succeed).
//! let refresher = JwksRefresher::start(fetch, |keys| {
//!     Validator::builder(keys).issuer("https://idp.example.com/").audience("my-api").build()
//! })
//! .await?;
//! let validator: Validator = refresher.validator().clone(); // for JwtLayer::new
//! // Then every 10 minutes, in the background, for as long as the app runs.
//! let _task = refresher.spawn(Duration::from_secs(600));
//! # let _ = validator; Ok(()) }
//! ```
//!
//! When the key server is down, nothing is lost and nothing is guessed: the keys
//! fetched last stay in force (they are still the provider's keys), a token
//! signed with a key not among them is refused as `UnknownKey`, and the failure
//! is logged at each attempt. A JWKS that does not parse, or holds no usable
//! key, is refused the same way and never replaces good keys.
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::jwk::JwkSet;

use crate::error::ConfigError;
use crate::future::BoxFuture;
use crate::keys::KeySet;
use crate::validate::Validator;

/// Why keys could not be fetched or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwksError {
    /// The fetch failed (network, status, body).
    #[error("JWKS fetch failed: {0}")]
    Fetch(String),
    /// The document holds no usable key, or the validator refused its configuration.
    #[error("JWKS not usable: {0}")]
    Keys(#[from] ConfigError),
}

/// Fetches the JWKS document. Implemented for async closures returning
/// `Result<JwkSet, E>` with `E: Display`.
pub trait FetchJwks: Send + Sync + 'static {
    /// Fetches the current document.
    fn fetch(&self) -> BoxFuture<'_, Result<JwkSet, String>>;
}

impl<F, Fut, E> FetchJwks for F
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<JwkSet, E>> + Send + 'static,
    E: std::fmt::Display,
{
    fn fetch(&self) -> BoxFuture<'_, Result<JwkSet, String>> {
        let future = self();
        Box::pin(async move { future.await.map_err(|e| e.to_string()) })
    }
}

/// Keeps a [`Validator`]'s keys in step with a JWKS endpoint.
#[derive(Clone)]
pub struct JwksRefresher {
    validator: Validator,
    fetch: Arc<dyn FetchJwks>,
}

impl std::fmt::Debug for JwksRefresher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwksRefresher")
            .field("validator", &self.validator)
            .finish_non_exhaustive()
    }
}

impl JwksRefresher {
    /// Fetches the keys once and builds the validator from them with `build`
    /// (issuer, audience, …). Fails if the first fetch fails: a service that
    /// cannot know its keys must not start.
    pub async fn start<F, B>(fetch: F, build: B) -> Result<Self, JwksError>
    where
        F: FetchJwks,
        B: FnOnce(KeySet) -> Result<Validator, ConfigError>,
    {
        let keys = fetch_keys(&fetch).await?;
        let validator = build(keys)?;
        Ok(Self {
            validator,
            fetch: Arc::new(fetch),
        })
    }

    /// The validator whose keys this refresher replaces.
    pub fn validator(&self) -> &Validator {
        &self.validator
    }

    /// Fetches now and, if the document is usable, replaces the keys. Returns
    /// how many keys are in force. On failure the old keys stay.
    pub async fn refresh(&self) -> Result<usize, JwksError> {
        let keys = fetch_keys(self.fetch.as_ref()).await?;
        let count = keys.len();
        self.validator.replace_keys(keys);
        Ok(count)
    }

    /// Refreshes every `interval` in a background task (Tokio) until the task is
    /// aborted; failures are logged and retried at the next tick.
    pub fn spawn(self, interval: Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                match self.refresh().await {
                    Ok(count) => tracing::debug!(target: "jwt_layer", count, "JWKS refreshed"),
                    Err(err) => tracing::warn!(
                        target: "jwt_layer",
                        %err,
                        "JWKS refresh failed; keeping the keys fetched last"
                    ),
                }
            }
        })
    }
}

async fn fetch_keys(fetch: &dyn FetchJwks) -> Result<KeySet, JwksError> {
    let jwks = fetch.fetch().await.map_err(JwksError::Fetch)?;
    Ok(KeySet::from_jwks(&jwks)?)
}
