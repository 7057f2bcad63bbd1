//! A strict tower [`Layer`](tower_layer::Layer) that finds, verifies and hands over
//! JWT claims: the passport-jwt of the tower ecosystem.
//!
//! Put [`JwtLayer`] in front of any tower service (an axum `Router`, a hyper
//! service, a tonic server): it takes the token from the configured
//! [sources](TokenSource), verifies signature and claims under a strict
//! [policy](validate), and puts the verified claims into the request extensions,
//! decoded once into your type. Refusals are answered the RFC 6750 way.
//!
//! ```
//! use bytes::Bytes;
//! use http::{Request, Response, StatusCode, header};
//! use http_body_util::Full;
//! use jwt_layer::{Algorithm, JwtLayer, Key, KeySet, SigningKey, TokenIssuer, Validator, Verified};
//! use serde::{Deserialize, Serialize};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! #[derive(Serialize, Deserialize)]
//! struct MyClaims { name: String }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let secret = b"change me: at least 32 bytes of secret!";
//! let signing = SigningKey::hmac(Algorithm::HS256, secret)?;
//! let validator = Validator::builder(KeySet::single(signing.verifying_key()))
//!     .issuer("https://auth.example.com")
//!     .audience("https://api.example.com")
//!     .build()?;
//!
//! // The service behind the layer only ever sees verified requests.
//! let service = ServiceBuilder::new()
//!     .layer(JwtLayer::<MyClaims>::new(validator.clone()))
//!     .service(service_fn(|request: Request<String>| async move {
//!         let claims = request.extensions().get::<Verified<MyClaims>>().expect("set by the layer");
//!         Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from(format!("hello {}", claims.name)))))
//!     }));
//!
//! // Issue a token (as a login handler would) and use it.
//! let issuer = TokenIssuer::new(signing, validator)?;
//! let token = issuer.issue("user-42", &MyClaims { name: "Ada".into() })?;
//! let request = Request::builder()
//!     .header(header::AUTHORIZATION, format!("Bearer {}", token.access_token))
//!     .body(String::new())?;
//! let response = service.clone().oneshot(request).await?;
//! assert_eq!(response.status(), StatusCode::OK);
//! # use http_body_util::BodyExt;
//! assert_eq!(response.into_body().collect().await?.to_bytes(), "hello Ada");
//!
//! // No token: 401 with an RFC 6750 challenge.
//! let response = service.oneshot(Request::new(String::new())).await?;
//! assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
//! assert_eq!(response.headers()[header::WWW_AUTHENTICATE], r#"Bearer realm="api""#);
//! # Ok(()) }
//! ```
//!
//! # Modules
//! - [`source`]: where tokens come from, and the conflict rules;
//! - [`keys`]: keys bound to one algorithm each, chosen by `kid`;
//! - [`jwks`]: keys from an identity provider's JWKS, refreshed in the background;
//! - [`validate`]: the strict verification policy;
//! - [`cache`]: the verified-token cache (feature `cache`, on by default);
//! - [`claims`]: what handlers receive;
//! - [`error`]: refusals, RFC 6750 challenges, the response hook;
//! - [`revocation`]: the async revocation hook (fails closed);
//! - [`issue`]: signing access tokens with the same configuration;
//! - [`refresh`]: opaque refresh tokens, rotation, reuse detection, logout;
//! - [`store`]: the state behind refresh and revocation (memory, Redis);
//! - [`cookie`]: `Set-Cookie` helpers for browser apps;
//! - [`csrf`]: the cross-site check of cookie-authenticated requests.
//!
//! # Features
//! - `aws-lc-rs` (default) or `rust-crypto`: the crypto backend of `jsonwebtoken`.
//!   Exactly one must be enabled; anything else is a compile error.
//! - `redis`: `store::RedisStore`, for many instances sharing one state.
//! - `password`: the `password` module, Argon2id password hashing for login handlers.
//! - `cache` (default): the [verified-token cache](cache), with `quick_cache`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// Hostile input never panics: no slicing or indexing of data, no unwrap/expect,
// no panic! in library code. A provably safe index carries an `#[expect]` with
// its reason, so the lint fires again if the code around it changes.
#![cfg_attr(
    not(test),
    deny(
        clippy::string_slice,
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(not(any(feature = "aws-lc-rs", feature = "rust-crypto")))]
compile_error!(
    "jwt-layer needs a crypto backend: enable exactly one of the features `aws-lc-rs` (default) or `rust-crypto`"
);
// Both backends would make jsonwebtoken panic at the first signature. Clippy
// (`--all-features`) only checks and produces no binary, so it is let through.
#[cfg(all(feature = "aws-lc-rs", feature = "rust-crypto", not(clippy)))]
compile_error!(
    "jwt-layer: the features `aws-lc-rs` and `rust-crypto` are exclusive; with `rust-crypto`, add `default-features = false`"
);

#[cfg(feature = "cache")]
#[cfg_attr(docsrs, doc(cfg(feature = "cache")))]
pub mod cache;
pub mod claims;
pub mod cookie;
pub mod csrf;
pub mod error;
mod header;
pub mod issue;
pub mod jwks;
pub mod keys;
mod layer;
#[cfg(feature = "password")]
pub mod password;
pub mod refresh;
pub mod revocation;
pub mod source;
pub mod store;
pub mod validate;

pub use claims::{Anonymous, RegisteredClaims, RoleClaim, Verified, VerifiedToken};
pub use error::{AuthError, ConfigError, ErrorCode, ErrorResponder};
pub use issue::{IssueError, IssuedToken, TokenIssuer};
pub use jsonwebtoken::Algorithm;
pub use jsonwebtoken::jwk::{Jwk, JwkSet};
pub use keys::{Key, KeySet, SigningKey};
pub use layer::{DEFAULT_REALM, JwtLayer, JwtService, ResponseFuture};
pub use refresh::{RefreshError, RefreshTokens, TokenPair};
pub use revocation::{RevocationCheck, RevocationError};
pub use source::{TokenSource, TokenSourceKind};
pub use validate::{Validator, ValidatorBuilder};
