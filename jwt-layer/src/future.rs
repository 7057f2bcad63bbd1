//! The boxed future of the crate's async extension points: token sources,
//! revocation checks, stores and key fetchers. A leaf module (it imports nothing
//! of ours), so every module can name the type without importing another's.
use std::future::Future;
use std::pin::Pin;

/// A boxed, sendable future, as returned by the pluggable parts of the crate
/// ([`ExtractToken`](crate::source::ExtractToken),
/// [`RevocationCheck`](crate::RevocationCheck), stores, JWKS fetchers).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
