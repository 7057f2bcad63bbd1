//! Configuration from the environment, with defaults that work on a laptop.

/// A string from the environment variable `name`, or `default`.
pub fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}
