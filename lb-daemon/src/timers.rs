//! Small waiting helpers shared by the daemon's event loops.
use tokio::time::Instant;

/// Sleeps until `deadline`; never ends without one (a `select!` branch
/// for a timer that may be unset).
pub async fn sleep_until_some(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
