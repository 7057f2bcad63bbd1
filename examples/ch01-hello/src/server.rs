//! Logging and serving: the same in every chapter, so they live apart from the
//! application.
use std::net::{Ipv4Addr, SocketAddr};

use axum::Router;

/// The error type of `main`: any error, with its message printed on exit.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

// ANCHOR: tracing
/// Logs to stderr (stdout carries only the `listening on` line), `info` by
/// default; `RUST_LOG=debug` also says why each request was refused.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}
// ANCHOR_END: tracing

// ANCHOR: serve
/// Binds `127.0.0.1:$PORT` (default 3000; 0 picks a free port), prints
/// `listening on http://127.0.0.1:PORT` on stdout, and serves `app` until
/// Ctrl-C. Handlers may ask for the client's address (`ConnectInfo`), which the
/// login throttle of chapter 14 does.
pub async fn serve(app: Router) -> Result<(), BoxError> {
    let port = match std::env::var("PORT") {
        Ok(port) => port.trim().parse::<u16>()?,
        Err(_) => 3000,
    };
    // Loopback only: a development server is not reachable from the network.
    let listener =
        tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
// ANCHOR_END: serve
