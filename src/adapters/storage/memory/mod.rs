//! In-memory storage: the default for local testing, and the reference for the conformance
//! suite. Indexed for every query the services make; nothing on a hot path scans all rows.
//! This module holds the state and its indexes; each role of the port is implemented in its
//! own file.

mod aggregations;
mod campaigns;
mod client_days;
mod clients;
mod jobs;
mod sketches;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use parking_lot::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::domain::campaign::Campaign;
use crate::domain::client::{Activity, Client, ClientBreakdown, ClientDay};
use crate::domain::job::JobRun;
use crate::domain::shared::Shared;
use crate::domain::sketch::{Aggregation, Group, Sketch};
use crate::domain::time::Day;
use crate::ports::{Storage, StorageResult};

type DayKey = (String, Day);
type GroupKey = (String, Day, u32);
/// A campaign's groups' public keys by (day, group).
type CampaignKeys = HashMap<(Day, u32), Shared<Vec<String>>>;
/// Activity is keyed by time and an insertion number, so equal times stay distinct.
type ActivityKey = (DateTime<Utc>, u64);
/// Job runs are keyed by job, start and an insertion number.
type RunKey = (String, DateTime<Utc>, u64);

#[derive(Default)]
struct JobState {
    completed: Option<DateTime<Utc>>,
    claim: Option<(String, DateTime<Utc>)>,
}

#[derive(Default)]
struct Inner {
    campaigns: HashMap<String, Campaign>,
    clients: HashMap<String, Client>,
    /// (create_time, name) of every client, for newest-first pages.
    clients_by_time: BTreeSet<(DateTime<Utc>, String)>,
    activity: BTreeMap<ActivityKey, Activity>,
    activity_by_client: HashMap<String, BTreeSet<ActivityKey>>,
    activity_seq: u64,
    sketches: HashMap<String, Sketch>,
    /// Per client: the names of its sketches (a handful: campaigns × open days).
    sketches_by_client: HashMap<String, Vec<String>>,
    sketches_by_day: BTreeMap<DayKey, Vec<String>>,
    /// The groups without their public keys, which `group_keys` holds.
    groups: BTreeMap<GroupKey, Group>,
    /// Each group's public keys as pings hand them out, one shared copy per group; by campaign
    /// then (day, group), so a ping looks them up without building a key.
    group_keys: HashMap<String, CampaignKeys>,
    raw_sums: BTreeMap<DayKey, Vec<i64>>,
    aggregations: BTreeMap<DayKey, Aggregation>,
    jobs: HashMap<String, JobState>,
    job_runs: BTreeMap<RunKey, JobRun>,
    job_run_seq: u64,
    client_days: BTreeMap<NaiveDate, (ClientDay, ClientBreakdown)>,
}

impl Inner {
    fn remove_activity_key(&mut self, key: &ActivityKey) {
        if let Some(a) = self.activity.remove(key) {
            if let Some(keys) = self.activity_by_client.get_mut(&a.client_name) {
                keys.remove(key);
                if keys.is_empty() {
                    self.activity_by_client.remove(&a.client_name);
                }
            }
        }
    }

    fn remove_client(&mut self, name: &str) -> bool {
        let Some(client) = self.clients.remove(name) else {
            return false;
        };
        self.clients_by_time
            .remove(&(client.create_time, client.name.clone()));
        for key in self.activity_by_client.remove(name).unwrap_or_default() {
            self.activity.remove(&key);
        }
        true
    }

    fn remove_sketch(&mut self, name: &str) -> bool {
        let Some(s) = self.sketches.remove(name) else {
            return false;
        };
        if let Some(set) = self.sketches_by_client.get_mut(&s.client_name) {
            set.retain(|n| *n != s.name);
            if set.is_empty() {
                self.sketches_by_client.remove(&s.client_name);
            }
        }
        true
    }

    /// Removes the sketches, groups and raw sums of the given campaign-days.
    fn remove_days(&mut self, days: Vec<DayKey>) -> u64 {
        let mut removed = 0;
        for key in days {
            for name in self.sketches_by_day.remove(&key).unwrap_or_default() {
                removed += u64::from(self.remove_sketch(&name));
            }
            let (campaign, day) = key.clone();
            let groups: Vec<GroupKey> = self
                .groups
                .range((campaign.clone(), day, 0)..=(campaign, day, u32::MAX))
                .map(|(k, _)| k.clone())
                .collect();
            for g in groups {
                self.groups.remove(&g);
                if let Some(groups) = self.group_keys.get_mut(&g.0) {
                    groups.remove(&(g.1, g.2));
                    if groups.is_empty() {
                        self.group_keys.remove(&g.0);
                    }
                }
            }
            self.raw_sums.remove(&key);
        }
        removed
    }

    fn campaign_days(&self, campaign: &str, before: Day) -> Vec<DayKey> {
        let from = (campaign.to_string(), Day::MIN);
        let to = (campaign.to_string(), before);
        let mut days: BTreeSet<DayKey> = self
            .sketches_by_day
            .range(from.clone()..to.clone())
            .map(|(k, _)| k.clone())
            .collect();
        days.extend(
            self.raw_sums
                .range(from.clone()..to.clone())
                .map(|(k, _)| k.clone()),
        );
        days.extend(
            self.groups
                .range((from.0.clone(), from.1, 0)..(to.0.clone(), to.1, 0))
                .map(|(k, _)| (k.0.clone(), k.1)),
        );
        days.into_iter().collect()
    }
}

/// Thread-safe in-memory storage.
#[derive(Default)]
pub struct MemoryStorage {
    inner: RwLock<Inner>,
}

impl MemoryStorage {
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        self.inner.read()
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner.write()
    }
}

#[async_trait]
impl Storage for MemoryStorage {
    fn kind(&self) -> &'static str {
        "memory"
    }

    async fn health(&self) -> StorageResult<()> {
        Ok(())
    }

    async fn schema_version(&self) -> StorageResult<Option<u32>> {
        Ok(None)
    }
}
