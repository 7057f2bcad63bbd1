//! [`JwtService`]: the tower [`Service`] the [`JwtLayer`] wraps around yours.
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use serde::de::DeserializeOwned;
use tower_service::Service;

use crate::layer::JwtLayer;
use crate::source::BoxFuture;

/// Authenticates requests, then calls the inner service with the verified claims in
/// the request extensions, or answers the refusal itself.
///
/// Generic over request and response bodies; the response body must be buildable
/// from [`Bytes`] for refusals (true of `axum::body::Body`, `http_body_util::Full`,
/// and `String`-like bodies).
pub struct JwtService<S, T> {
    inner: S,
    layer: JwtLayer<T>,
}

impl<S: Clone, T> Clone for JwtService<S, T> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            layer: self.layer.clone(),
        }
    }
}

impl<S: std::fmt::Debug, T> std::fmt::Debug for JwtService<S, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtService")
            .field("inner", &self.inner)
            .field("layer", &self.layer)
            .finish()
    }
}

impl<S, T> JwtService<S, T> {
    pub(crate) fn new(inner: S, layer: JwtLayer<T>) -> Self {
        Self { inner, layer }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

/// The future of [`JwtService`]: boxed, because token sources and the revocation
/// check may be async.
pub type ResponseFuture<R, E> = BoxFuture<'static, Result<R, E>>;

impl<S, T, ReqBody, ResBody> Service<Request<ReqBody>> for JwtService<S, T>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    T: DeserializeOwned + Send + Sync + 'static,
    ReqBody: Send + 'static,
    ResBody: From<Bytes> + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        // The clone was not polled ready; the original was. Keep the ready one.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let config = self.layer.config().clone();
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            match config.authenticate::<T>(&mut parts).await {
                Ok(()) => inner.call(Request::from_parts(parts, body)).await,
                Err(err) => Ok(config.reject(err, &parts).map(ResBody::from)),
            }
        })
    }
}
