//! The Express / passport-jwt idioms of the book's Express appendix
//! (`book/src/appendix-express.md`), each as a small compiled snippet.
//!
//! Every module maps one passport-jwt (or Express) habit to this toolkit and
//! is self-contained: its own types, its own router, nothing from the rest of
//! the examples crate. The appendix includes the parts between the
//! `ANCHOR` markers; `tests/express_map.rs` sends real, signed requests
//! through each of them.
//!
//! | module | the Express / passport-jwt idiom |
//! |---|---|
//! | [`current_user`] | `verify(payload, done)` loading the user from the database, `req.user` |
//! | [`banned`] | `done(null, false)` for banned users |
//! | [`tenant_keys`] | `secretOrKeyProvider(req, rawJwt, done)`: keys per tenant |
//! | [`token_sources`] | `ExtractJwt.fromHeader`, `fromAuthHeaderWithScheme`, `fromBodyField` |
//! | [`custom_callback`] | `failWithError` and the `(err, user, info)` custom callback |
//! | [`order`] | the order of `app.use` against axum's `.layer` and `.route_layer` |
//! | [`cors`] | `cors({ origin, credentials: true })` in front of authentication |
//! | [`sign_verify`] | `jwt.sign` / `jwt.verify` |
pub mod banned;
pub mod cors;
pub mod current_user;
pub mod custom_callback;
pub mod order;
pub mod sign_verify;
pub mod tenant_keys;
pub mod token_sources;
