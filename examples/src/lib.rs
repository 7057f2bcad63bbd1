//! The test harness of the numbered examples. The examples themselves are the
//! book's reader projects, `examples/chNN-*/`, compiled here as the bins
//! `01_hello` … `15_resource_server` (see `Cargo.toml`); what the tests need to
//! know about them lives here, with the compiled snippets of the Express
//! appendix (`express`).

pub mod express;

/// Every environment variable an example reads. The tests that start the
/// examples clear them all first, so the machine's environment cannot leak into
/// a run: one list, kept next to the code that reads them.
pub const VARIABLES: &[&str] = &[
    "PORT",
    "DATABASE_URL",
    "JWT_SECRET",
    "JWT_ISSUER",
    "JWT_AUDIENCE",
    "JWT_CLIENT_ID",
    "JWT_PRIVATE_KEY_FILE",
    "JWT_KEY_ID",
    "JWT_PREVIOUS_PUBLIC_KEY_FILE",
    "JWT_PREVIOUS_KEY_ID",
    "DEV_KEYS",
    "DEMO_ACCOUNTS",
    "ACCESS_TTL_SECS",
    "LEEWAY_SECS",
    "REFRESH_IDLE_SECS",
    "SESSION_MAX_SECS",
    "REUSE_GRACE_SECS",
    "LOGIN_ACCOUNT_PER_MIN",
    "LOGIN_ADDRESS_PER_MIN",
    "SIGNUP_ADDRESS_PER_HOUR",
    "TRUSTED_PROXIES",
    "REDIS_URL",
    "REVOCATION_CACHE_SECS",
    "STATIC_DIR",
    "ISSUER_URL",
    "RESOURCE_URL",
    "ACCEPT_TYPES",
    "RUST_LOG",
];
