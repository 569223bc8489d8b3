//! The clients and their activity (one entry per ping).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StorageResult;
use crate::domain::client::{Activity, Client, ClientDetails};
use crate::domain::sketch::OpenSketch;

/// Position in the client list (newest first): the last client of the previous page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCursor {
    pub create_time: DateTime<Utc>,
    pub name: String,
}

#[async_trait]
pub trait ClientStore: Send + Sync + 'static {
    /// Stores a new client. `AlreadyExists` when its name is taken.
    async fn create_client(&self, client: &Client) -> StorageResult<()>;

    /// The client with its latest activity (greatest time), or `Ok(None)`.
    async fn get_client(&self, name: &str) -> StorageResult<Option<ClientDetails>>;

    /// Replaces a client (same name; create_time kept as given). `NotFound` when there is none.
    async fn replace_client(&self, client: &Client) -> StorageResult<()>;

    /// Deletes a client and all its activity. `NotFound` when there is none. Its sketches are
    /// left to garbage collection (their groups' keys and sums do not change).
    async fn delete_client(&self, name: &str) -> StorageResult<()>;

    /// Up to `limit` clients, newest `create_time` first (ties by name descending), strictly
    /// after `after` in that order when given.
    async fn list_clients(
        &self,
        limit: usize,
        after: Option<&ClientCursor>,
    ) -> StorageResult<Vec<Client>>;

    /// Number of registered clients.
    async fn count_clients(&self) -> StorageResult<u64>;

    /// Activity of one client (or of all when `client` is `None`) with `time >= since` (all
    /// when `None`), oldest first (ties by client name). An unknown client gives an empty list.
    async fn list_activity(
        &self,
        client: Option<&str>,
        since: Option<DateTime<Utc>>,
    ) -> StorageResult<Vec<Activity>>;

    /// The existing clients with at least one activity in `[from, to)`, each once, sorted by
    /// name.
    async fn active_clients(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StorageResult<Vec<Client>>;

    /// `(client, time)` of every activity in `[from, to)` of the given clients, in no
    /// particular order.
    async fn activity_times(
        &self,
        clients: &[String],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StorageResult<Vec<(String, DateTime<Utc>)>>;

    /// Records a ping in one operation: when the client exists, appends `activity` and returns
    /// its unsubmitted sketches (ordered by campaign name, then day) each with its group's
    /// public keys; `Ok(None)` without recording anything when the client does not exist.
    async fn record_ping(&self, activity: &Activity) -> StorageResult<Option<Vec<OpenSketch>>>;

    /// Deletes clients created before `threshold` with no activity at or after it, with their
    /// activity. Returns how many clients were deleted.
    async fn prune_clients(&self, threshold: DateTime<Utc>) -> StorageResult<u64>;

    /// Deletes activity older than `before`. Returns how many entries were deleted.
    async fn delete_activity_before(&self, before: DateTime<Utc>) -> StorageResult<u64>;
}
