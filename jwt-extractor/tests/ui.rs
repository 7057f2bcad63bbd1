//! Compile-time checks: misuse must not compile, and must say why.
//!
//! The `.stderr` snapshots are tied to the toolchain pinned in
//! `rust-toolchain.toml`; after a toolchain bump, review and refresh them with
//! `TRYBUILD=overwrite cargo test -p jwt-extractor --test ui`.
#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
