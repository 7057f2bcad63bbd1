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

use http::request::Parts;

use crate::error::{AuthError, ConfigError};
use crate::future::BoxFuture;
use crate::keys::KeySet;
use crate::resolve::{KeyResolver, UnverifiedToken};
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
/// `Result<JwkSet, E>` with `E: Display`, and by
/// [`fetch::JwksUrl`](crate::fetch::JwksUrl): the JWKS at a URL, over any
/// [`FetchDocument`](crate::fetch::FetchDocument), with HTTP caching.
pub trait FetchJwks: Send + Sync + 'static {
    /// Fetches the current document.
    fn fetch(&self) -> BoxFuture<'_, Result<JwkSet, String>>;

    /// Fetches with HTTP caching: sends `If-None-Match: etag` when given, and
    /// reports the response's `ETag` and `Cache-Control: max-age`.
    /// [`JwksUrl`](crate::fetch::JwksUrl) overrides this; the default calls
    /// [`fetch`](Self::fetch) and reports no caching headers.
    fn fetch_cached<'a>(
        &'a self,
        etag: Option<&'a str>,
    ) -> BoxFuture<'a, Result<JwksResponse, String>> {
        let _ = etag;
        let fetched = self.fetch();
        Box::pin(async move {
            fetched.await.map(|jwks| JwksResponse {
                jwks: Some(jwks),
                etag: None,
                max_age: None,
            })
        })
    }
}

/// A JWKS response with its caching headers (see [`FetchJwks::fetch_cached`]).
#[derive(Debug, Clone, Default)]
pub struct JwksResponse {
    /// The document; `None` for `304 Not Modified` (the keys in force stay).
    pub jwks: Option<JwkSet>,
    /// The response's `ETag`, sent back as `If-None-Match` next time.
    pub etag: Option<String>,
    /// The response's `Cache-Control: max-age`.
    pub max_age: Option<Duration>,
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

/// The default pause between two fetches triggered by unknown `kid`s: 30 s.
pub const DEFAULT_COOLDOWN: Duration = Duration::from_secs(30);
/// The default limit on one fetch: 5 s.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// An identity provider's JWKS as a [`KeyResolver`]: a token naming a `kid`
/// not among the keys fetched last makes it fetch the JWKS again, so a key
/// rotation costs no outage.
///
/// - **Single-flight**: one fetch, shared by every request waiting for it. It
///   runs in a task of its own, so a request that gives up does not cancel it
///   for the others; no lock is held across it.
/// - **Cooldown** (default [`DEFAULT_COOLDOWN`], 30 s): at most one fetch
///   triggered by unknown `kid`s per cooldown, so a flood of made-up `kid`s
///   cannot make this service flood the provider. Tokens naming an unknown
///   `kid` within the cooldown are refused at once (`UnknownKey`).
/// - **Timeout** (default [`DEFAULT_TIMEOUT`], 5 s): no request waits longer
///   for a fetch; a fetch that takes longer is abandoned.
/// - **Stale keys kept**: a failed fetch, or a document that does not parse or
///   holds no usable key, never replaces the keys in force.
///
/// Replacing the keys clears the verified-token caches of the layers sharing
/// the validator (its key-set generation changes).
///
/// ```
/// use std::time::Duration;
/// use jwt_layer::jwks::RemoteJwks;
/// use jwt_layer::{JwkSet, JwtLayer, Validator};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), jwt_layer::jwks::JwksError> {
/// # let published = serde_json::from_str::<JwkSet>(r#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","alg":"EdDSA","kid":"k1"}]}"#).unwrap();
/// let fetch = move || {
///     let published = published.clone();
///     async move { Ok::<_, String>(published) } // your HTTP GET of the jwks_uri
/// };
/// let jwks = RemoteJwks::builder()
///     .cooldown(Duration::from_secs(30))
///     .timeout(Duration::from_secs(5))
///     .start(fetch, |keys| {
///         Validator::builder(keys).issuer("https://idp.example.com/").audience("my-api").build()
///     })
///     .await?;
/// let layer = JwtLayer::<serde_json::Value>::new(jwks.validator().clone()).resolver(jwks.clone());
/// # let _ = layer; Ok(()) }
/// ```
#[derive(Clone)]
pub struct RemoteJwks {
    inner: Arc<Remote>,
}

struct Remote {
    validator: Validator,
    fetch: Arc<dyn FetchJwks>,
    cooldown: Duration,
    timeout: Duration,
    state: std::sync::Mutex<FlightState>,
    fetches: std::sync::atomic::AtomicU64,
    /// The last `ETag` and `max-age` the provider sent.
    caching: std::sync::Mutex<(Option<String>, Option<Duration>)>,
    /// Bounds on the periodic refresh interval derived from `max-age`.
    refresh_bounds: (Duration, Duration),
}

#[derive(Default)]
struct FlightState {
    /// When the last fetch triggered by an unknown `kid` started.
    last_refetch: Option<tokio::time::Instant>,
    /// The fetch under way: its receiver turns `true` when it is over.
    in_flight: Option<tokio::sync::watch::Receiver<bool>>,
}

impl std::fmt::Debug for RemoteJwks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteJwks")
            .field("validator", &self.inner.validator)
            .field("cooldown", &self.inner.cooldown)
            .field("timeout", &self.inner.timeout)
            .finish_non_exhaustive()
    }
}

/// Builds a [`RemoteJwks`].
#[derive(Debug, Clone, Copy)]
#[must_use]
pub struct RemoteJwksBuilder {
    cooldown: Duration,
    timeout: Duration,
    refresh_bounds: (Duration, Duration),
}

impl RemoteJwksBuilder {
    /// The least time between two fetches triggered by unknown `kid`s (default 30 s).
    pub fn cooldown(mut self, cooldown: Duration) -> Self {
        self.cooldown = cooldown;
        self
    }

    /// The longest a fetch may take, and so the longest a request waits for
    /// one (default 5 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Bounds on the interval of [`RemoteJwks::spawn_following_max_age`]:
    /// the provider's `Cache-Control: max-age`, clamped to `min..=max`
    /// (default 1 min to 1 day; without `max-age`, `max`).
    pub fn refresh_bounds(mut self, min: Duration, max: Duration) -> Self {
        self.refresh_bounds = (min, max.max(min));
        self
    }

    /// Fetches the keys once (within the timeout) and builds the validator
    /// from them with `build`. Fails if that first fetch fails: a service that
    /// cannot know its keys must not start.
    pub async fn start<F, B>(self, fetch: F, build: B) -> Result<RemoteJwks, JwksError>
    where
        F: FetchJwks,
        B: FnOnce(KeySet) -> Result<Validator, ConfigError>,
    {
        let fetch: Arc<dyn FetchJwks> = Arc::new(fetch);
        let response = fetch_within(fetch.as_ref(), None, self.timeout).await?;
        let keys = KeySet::from_jwks(&response.jwks.ok_or_else(|| {
            JwksError::Fetch("304 Not Modified to a request without If-None-Match".to_owned())
        })?)?;
        let validator = build(keys)?;
        Ok(RemoteJwks {
            inner: Arc::new(Remote {
                validator,
                fetch,
                cooldown: self.cooldown,
                timeout: self.timeout,
                state: std::sync::Mutex::new(FlightState::default()),
                fetches: std::sync::atomic::AtomicU64::new(1),
                caching: std::sync::Mutex::new((response.etag, response.max_age)),
                refresh_bounds: self.refresh_bounds,
            }),
        })
    }
}

impl RemoteJwks {
    /// Starts the configuration, with the defaults (30 s cooldown, 5 s timeout).
    pub fn builder() -> RemoteJwksBuilder {
        RemoteJwksBuilder {
            cooldown: DEFAULT_COOLDOWN,
            timeout: DEFAULT_TIMEOUT,
            refresh_bounds: (Duration::from_secs(60), Duration::from_secs(24 * 3600)),
        }
    }

    /// The validator whose keys this replaces.
    pub fn validator(&self) -> &Validator {
        &self.inner.validator
    }

    /// How many fetches were started, the first one included.
    pub fn fetch_count(&self) -> u64 {
        self.inner
            .fetches
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Fetches now (not subject to the cooldown) and, if the document is
    /// usable, replaces the keys. Returns how many keys are in force. On
    /// failure the old keys stay. For a periodic refresh, see [`spawn`](Self::spawn).
    ///
    /// Sends the last `ETag` as `If-None-Match` (when the fetcher supports
    /// it): a `304 Not Modified` keeps the keys in force.
    pub async fn refresh(&self) -> Result<usize, JwksError> {
        self.inner
            .fetches
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let etag = self.caching().0;
        let response = fetch_within(
            self.inner.fetch.as_ref(),
            etag.as_deref(),
            self.inner.timeout,
        )
        .await?;
        let count = match &response.jwks {
            Some(jwks) => {
                let keys = KeySet::from_jwks(jwks)?;
                let count = keys.len();
                self.inner.validator.replace_keys(keys);
                count
            }
            None => self.inner.validator.keys().len(),
        };
        let mut caching = match self.inner.caching.lock() {
            Ok(caching) => caching,
            Err(poisoned) => poisoned.into_inner(),
        };
        if response.etag.is_some() || response.jwks.is_some() {
            caching.0 = response.etag;
        }
        caching.1 = response.max_age;
        Ok(count)
    }

    fn caching(&self) -> (Option<String>, Option<Duration>) {
        match self.inner.caching.lock() {
            Ok(caching) => caching.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// When the next periodic refresh is due: the provider's last
    /// `Cache-Control: max-age` within the [refresh bounds](RemoteJwksBuilder::refresh_bounds).
    pub fn next_refresh(&self) -> Duration {
        let (min, max) = self.inner.refresh_bounds;
        self.caching().1.map_or(max, |age| age.clamp(min, max))
    }

    /// Refreshes in a background task (Tokio) as the provider's
    /// `Cache-Control: max-age` says, within the refresh bounds, until the task
    /// is aborted; failures are logged and retried after the lower bound.
    pub fn spawn_following_max_age(&self) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            let mut wait = this.next_refresh();
            loop {
                tokio::time::sleep(wait).await;
                let result = this.refresh().await;
                wait = match result {
                    Ok(_) => this.next_refresh(),
                    Err(_) => this.inner.refresh_bounds.0,
                };
                log_refresh(result);
            }
        })
    }

    /// Refreshes every `interval` in a background task (Tokio) until the task
    /// is aborted; failures are logged and retried at the next tick.
    pub fn spawn(&self, interval: Duration) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                log_refresh(this.refresh().await);
            }
        })
    }

    /// Fetches again because a token named an unknown `kid`: joins the fetch
    /// under way, or starts one if the cooldown allows, and waits for it (at
    /// most the timeout). Returns at once when the cooldown forbids a fetch.
    async fn refetch(&self) {
        let Some(mut done) = self.join_or_start() else {
            return;
        };
        // The fetch task ends within the timeout; so does this wait, whatever happens.
        let _ = tokio::time::timeout(self.inner.timeout, done.wait_for(|done| *done)).await;
    }

    /// The receiver of the fetch under way, starting one if allowed. The lock
    /// is held only here, never across an await.
    fn join_or_start(&self) -> Option<tokio::sync::watch::Receiver<bool>> {
        let mut state = match self.inner.state.lock() {
            Ok(state) => state,
            Err(poisoned) => poisoned.into_inner(),
        };
        // A fetch task that died without reporting (its runtime shut down)
        // dropped its sender: forget it, so fetching stays possible.
        if let Some(in_flight) = &state.in_flight {
            if in_flight.has_changed().is_ok() {
                return Some(in_flight.clone());
            }
            state.in_flight = None;
        }
        let now = tokio::time::Instant::now();
        if state
            .last_refetch
            .is_some_and(|last| now.saturating_duration_since(last) < self.inner.cooldown)
        {
            return None;
        }
        state.last_refetch = Some(now);
        let (done_tx, done_rx) = tokio::sync::watch::channel(false);
        state.in_flight = Some(done_rx.clone());
        drop(state);
        let this = self.clone();
        tokio::spawn(async move {
            let result = this.refresh().await;
            log_refresh(result);
            let mut state = match this.inner.state.lock() {
                Ok(state) => state,
                Err(poisoned) => poisoned.into_inner(),
            };
            state.in_flight = None;
            drop(state);
            let _ = done_tx.send(true);
        });
        Some(done_rx)
    }
}

impl KeyResolver for RemoteJwks {
    fn resolve<'a>(
        &'a self,
        _parts: &'a Parts,
        token: &'a UnverifiedToken,
    ) -> BoxFuture<'a, Result<Validator, AuthError>> {
        Box::pin(async move {
            let validator = &self.inner.validator;
            if !validator.keys().has_key_for(token.kid.as_deref()) {
                self.refetch().await;
            }
            // Still unknown: the validator refuses it (`UnknownKey`).
            Ok(validator.clone())
        })
    }
}

fn log_refresh(result: Result<usize, JwksError>) {
    match result {
        Ok(count) => tracing::debug!(target: "jwt_layer", count, "JWKS refreshed"),
        Err(err) => tracing::warn!(
            target: "jwt_layer",
            %err,
            "JWKS refresh failed; keeping the keys fetched last"
        ),
    }
}

async fn fetch_within(
    fetch: &dyn FetchJwks,
    etag: Option<&str>,
    timeout: Duration,
) -> Result<JwksResponse, JwksError> {
    match tokio::time::timeout(timeout, fetch.fetch_cached(etag)).await {
        Ok(result) => result.map_err(JwksError::Fetch),
        Err(_) => Err(JwksError::Fetch(format!(
            "no answer within {} ms",
            timeout.as_millis()
        ))),
    }
}
