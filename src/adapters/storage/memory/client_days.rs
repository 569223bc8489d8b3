//! The clients counted per day, in memory.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

use super::MemoryStorage;
use crate::domain::client::{Activity, ClientBreakdown, ClientDay};
use crate::ports::{ClientDayStore, StorageResult};

#[async_trait]
impl ClientDayStore for MemoryStorage {
    async fn count_client_day(
        &self,
        date: NaiveDate,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StorageResult<(ClientDay, ClientBreakdown)> {
        let mut inner = self.write();
        let registrations = inner
            .clients_by_time
            .range((from, String::new())..(to, String::new()))
            .count() as u64;
        // Each client's activity recorded last in the day: the greatest insertion number.
        let mut last: HashMap<&str, (u64, &Activity)> = HashMap::new();
        for ((_, seq), a) in inner.activity.range((from, 0)..(to, 0)) {
            let entry = last.entry(a.client_name.as_str()).or_insert((*seq, a));
            if *seq > entry.0 {
                *entry = (*seq, a);
            }
        }
        let mut breakdown = ClientBreakdown::default();
        for (_, a) in last.values() {
            *breakdown
                .countries
                .entry(a.country_code.clone())
                .or_default() += 1;
            *breakdown
                .extension_versions
                .entry(a.extension_version.clone())
                .or_default() += 1;
        }
        let day = ClientDay {
            date,
            registrations,
            active: last.len() as u64,
        };
        inner.client_days.insert(date, (day, breakdown.clone()));
        Ok((day, breakdown))
    }

    async fn client_days(&self, from: NaiveDate, to: NaiveDate) -> StorageResult<Vec<ClientDay>> {
        if from > to {
            return Ok(Vec::new());
        }
        Ok(self
            .read()
            .client_days
            .range(from..=to)
            .map(|(_, (day, _))| *day)
            .collect())
    }

    async fn client_breakdown(&self, date: NaiveDate) -> StorageResult<Option<ClientBreakdown>> {
        Ok(self.read().client_days.get(&date).map(|(_, b)| b.clone()))
    }

    async fn delete_client_days_before(&self, before: NaiveDate) -> StorageResult<u64> {
        let mut inner = self.write();
        let kept = inner.client_days.split_off(&before);
        let deleted = inner.client_days.len() as u64;
        inner.client_days = kept;
        Ok(deleted)
    }
}
