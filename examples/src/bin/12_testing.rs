//! 12 — testing: the server of chapter 11 (plus an admin route), built by
//! `examples::app::app` so that `tests/12_testing.rs` can test it without a
//! network. This binary only wires it to the environment and a socket.
//!
//! ```console
//! cargo run -p examples --bin 12_testing
//! cargo test -p examples --test 12_testing
//! ```
use examples::Users;
use examples::app::{AppConfig, Auth, app};
use jwt_layer::store::MemoryStore;

// ANCHOR: main
#[tokio::main]
async fn main() -> Result<(), examples::BoxError> {
    examples::init_tracing();
    let auth = Auth::new(&AppConfig::from_env(), MemoryStore::new())?;
    examples::serve(app(&auth, Users::seed()?)).await
}
// ANCHOR_END: main
