//! What an operator instance is configured with, independent of how it was started.

use std::net::SocketAddr;
use std::time::Duration;

/// Settings of one operator instance.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Watch only this namespace; all namespaces when `None`.
    pub namespace: Option<String>,
    /// Address of the `/metrics`, `/healthz` and `/readyz` server; port 0 picks a free port.
    pub http_address: SocketAddr,
    /// Leader election; `None` runs without it (one replica only).
    pub leader_election: Option<LeaderElection>,
    /// ModelDeployments reconciled at the same time.
    pub concurrency: u16,
    /// Name of this replica in events and in the lease.
    pub identity: String,
    /// The runtime presets in force: the built-in ones and an admin's.
    pub presets: crate::preset::Presets,
    /// The Prometheus that analysis metrics query when they name no address.
    pub prometheus_url: Option<String>,
}

/// Where the leader lease lives.
#[derive(Clone, Debug)]
pub struct LeaderElection {
    pub namespace: String,
    pub lease_name: String,
    /// How long a lease stays valid without renewal.
    pub lease_duration: Duration,
}

impl LeaderElection {
    pub const DEFAULT_LEASE_NAME: &str = "modeldeploy-operator";
    pub const DEFAULT_LEASE_DURATION: Duration = Duration::from_secs(15);
}

/// A name for this replica: the pod name when run by Kubernetes, else host name and process id.
pub fn default_identity() -> String {
    std::env::var("POD_NAME")
        .or_else(|_| std::env::var("HOSTNAME"))
        .map(|host| format!("{host}-{}", std::process::id()))
        .unwrap_or_else(|_| format!("modeldeploy-operator-{}", std::process::id()))
}
