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
//! use jwt_layer::{Algorithm, JwtLayer, VerifyingKey, KeySet, SigningKey, TokenIssuer, Validator, Verified};
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
//!         let claims = Verified::<MyClaims>::from_extensions(request.extensions()).expect("set by the layer");
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
//! # How a request flows
//! The modules follow one request, and each imports only the ones before it
//! (plus the leaf helpers `header` and `error`):
//! 1. [`source`]: where the token is taken from (Bearer header, cookie, a custom
//!    header, the query, or yours), and the conflict rules: a duplicated or
//!    disagreeing credential is a 400, a malformed one never falls through;
//! 2. [`keys`]: the key the token's `kid` names, each bound to one algorithm;
//! 3. [`validate`]: the shape, the JOSE header, the signature
//!    (`jsonwebtoken::crypto::verify`), then the claims (expiry, lifetime,
//!    subject, issuer, audience);
//!    A [verified-token cache](cache) (feature `cache`, on by default) lets a
//!    token seen before skip the header and signature work, never the checks
//!    that follow;
//! 4. [`claims`]: what handlers receive, decoded once ([`Verified<T>`],
//!    [`VerifiedToken`]);
//! 5. [`csrf`]: the cross-site check of cookie-borne tokens on unsafe methods;
//! 6. [`hook`]: async hooks that may still refuse (fail closed: 503): the
//!    [`revocation`] check, and passport's verify callback ([`LoadUser`]),
//!    which loads the app's user for the handlers;
//! 7. [`error`]: every refusal, answered the RFC 6750 way, through one responder
//!    that the extractors of `jwt-extractor` use too.
//!
//! The [`JwtLayer`] runs steps 1–6 for each request and puts the result in the
//! request extensions. Around that core, behind features:
//! - `issue`: [`issue`] (`TokenIssuer`, `SigningKey`) signs tokens this layer
//!   accepts; [`cookie`] sets them as HttpOnly cookies;
//! - `refresh`: [`refresh`] (`RefreshTokens`) rotates refresh tokens with reuse
//!   detection, over a [`store`] (`MemoryStore`; `RedisStore` with `redis`);
//! - `jwks`: [`jwks`] keeps keys from an identity provider's JWKS fresh, and
//!   fetches them again when a token names an unknown `kid` (`RemoteJwks`);
//!   `discovery` finds them from the issuer's URL (OIDC discovery, RFC 8414);
//!   `fetch` is the pluggable HTTP GET both use, with HTTP caching of the JWKS;
//! - `password`: [`password`] hashes and verifies passwords with Argon2id.
//!
//! # Features
//! | feature | default | what |
//! |---|---|---|
//! | `aws-lc-rs` / `rust-crypto` | `aws-lc-rs` | the crypto backend of `jsonwebtoken`; exactly one, anything else is a compile error |
//! | `cache` | yes | the [verified-token cache](cache) (adds `quick_cache`) |
//! | `issue` | no | `TokenIssuer`, `SigningKey`, `Set-Cookie` helpers (adds `rand`, `cookie`) |
//! | `refresh` | no | `RefreshTokens`, `StoreRevocations`, `store::MemoryStore` (implies `issue`; adds `sha2`) |
//! | `redis` | no | `store::RedisStore`, for many instances (implies `refresh`) |
//! | `jwks` | no | `jwks::RemoteJwks`, `jwks::JwksRefresher`, `discovery`, `fetch` (adds `tokio`) |
//! | `jwks-http` | no | `http::HttpClient`, a ready HTTP client for discovery and JWKS (implies `jwks`; adds hyper-util, rustls) |
//! | `password` | no | Argon2id password hashing (adds `argon2`, `tokio`) |
//! | `test-util` | no | [`test_util`]: a test kit for your handlers' tests (implies `issue`; adds `http-body-util`) |
//!
//! The default build verifies tokens and nothing else. Always there: the
//! [`resolve`] module (a [`KeyResolver`] chooses keys and policy per token:
//! several [`Issuers`], keys per tenant), gRPC status refusals for gRPC
//! requests (see [`error`]), and RFC 9728 [`metadata`].
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
#[cfg(feature = "issue")]
#[cfg_attr(docsrs, doc(cfg(feature = "issue")))]
pub mod cookie;
pub mod csrf;
#[cfg(feature = "jwks")]
#[cfg_attr(docsrs, doc(cfg(feature = "jwks")))]
pub mod discovery;
pub mod error;
#[cfg(feature = "jwks")]
#[cfg_attr(docsrs, doc(cfg(feature = "jwks")))]
pub mod fetch;
mod future;
mod header;
pub mod hook;
#[cfg(feature = "jwks-http")]
#[cfg_attr(docsrs, doc(cfg(feature = "jwks-http")))]
pub mod http;
#[cfg(feature = "issue")]
#[cfg_attr(docsrs, doc(cfg(feature = "issue")))]
pub mod issue;
#[cfg(feature = "jwks")]
#[cfg_attr(docsrs, doc(cfg(feature = "jwks")))]
pub mod jwks;
pub mod keys;
mod layer;
pub mod metadata;
#[cfg(feature = "password")]
#[cfg_attr(docsrs, doc(cfg(feature = "password")))]
pub mod password;
#[cfg(feature = "refresh")]
#[cfg_attr(docsrs, doc(cfg(feature = "refresh")))]
pub mod refresh;
pub mod resolve;
pub mod revocation;
pub mod source;
#[cfg(feature = "refresh")]
#[cfg_attr(docsrs, doc(cfg(feature = "refresh")))]
pub mod store;
#[cfg(feature = "test-util")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub mod test_util;
pub mod validate;

pub use claims::{RegisteredClaims, RequestAuth, RoleClaim, Verified, VerifiedToken};
pub use error::{AuthError, ConfigError, DEFAULT_REALM, ErrorCode, ErrorResponder};
pub use future::BoxFuture;
pub use hook::{LoadUser, UserError};
#[cfg(feature = "issue")]
pub use issue::{Authentication, IssueError, IssuedToken, SigningKey, TokenIssuer};
pub use jsonwebtoken::Algorithm;
pub use jsonwebtoken::jwk::{Jwk, JwkSet};
pub use keys::{KeySet, VerifyingKey};
pub use layer::{JwtLayer, JwtService, ResponseFuture};
#[cfg(feature = "refresh")]
pub use refresh::{RefreshError, RefreshTokens, StoreRevocations, TokenPair};
pub use resolve::{Issuers, KeyResolver, UnverifiedToken};
pub use revocation::{RevocationCheck, RevocationError};
pub use source::{TokenSource, TokenSourceKind};
pub use validate::{Validator, ValidatorBuilder};
