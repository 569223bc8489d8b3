//! The clients counted per local day of the reference zone: written each night (by
//! collect-garbage) from the day's activity, read by the operator's console, and kept after that
//! activity is deleted. Counts only.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

use super::StorageResult;
use crate::domain::client::{ClientBreakdown, ClientDay};

#[async_trait]
pub trait ClientDayStore: Send + Sync + 'static {
    /// Counts the local day `date`, which spans `[from, to)`: the clients created in it, the
    /// distinct clients with activity in it, and those clients by the country and by the
    /// extension version of their activity recorded last in it. Stores the counts under
    /// `date`, replacing any stored for it, and returns them. A day without clients is stored
    /// with zeros and an empty breakdown.
    async fn count_client_day(
        &self,
        date: NaiveDate,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StorageResult<(ClientDay, ClientBreakdown)>;

    /// The days stored with a date in `[from, to]`, oldest first (days never counted are not
    /// listed).
    async fn client_days(&self, from: NaiveDate, to: NaiveDate) -> StorageResult<Vec<ClientDay>>;

    /// The breakdown stored for `date`, or `Ok(None)` when that day is not counted.
    async fn client_breakdown(&self, date: NaiveDate) -> StorageResult<Option<ClientBreakdown>>;

    /// Deletes the days dated before `before`, with their breakdowns. Returns how many days
    /// were deleted.
    async fn delete_client_days_before(&self, before: NaiveDate) -> StorageResult<u64>;
}
