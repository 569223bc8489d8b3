//! In-memory storage: the default for local testing, and the reference for the conformance
//! suite. Indexed for every query the services make; nothing on a hot path scans all rows.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use parking_lot::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::domain::campaign::Campaign;
use crate::domain::client::{Activity, Client, ClientDetails};
use crate::domain::crypto;
use crate::domain::sketch::{add_counts, Aggregation, Group, OpenSketch, Sketch, Submission};
use crate::domain::time::Day;
use crate::ports::storage::{ClientCursor, DaySketches, SubmitOutcome};
use crate::ports::{Storage, StorageError, StorageResult};

type DayKey = (String, Day);
type GroupKey = (String, Day, u32);
/// Activity is keyed by time and an insertion number, so equal times stay distinct.
type ActivityKey = (DateTime<Utc>, u64);

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
    groups: BTreeMap<GroupKey, Group>,
    raw_sums: BTreeMap<DayKey, Vec<i64>>,
    aggregations: BTreeMap<DayKey, Aggregation>,
    jobs: HashMap<String, JobState>,
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

    async fn create_campaign(&self, campaign: &Campaign) -> StorageResult<()> {
        let mut inner = self.write();
        if inner.campaigns.contains_key(&campaign.name) {
            return Err(StorageError::AlreadyExists);
        }
        inner
            .campaigns
            .insert(campaign.name.clone(), campaign.clone());
        Ok(())
    }

    async fn get_campaign(&self, name: &str) -> StorageResult<Option<Campaign>> {
        Ok(self.read().campaigns.get(name).cloned())
    }

    async fn list_campaigns(&self) -> StorageResult<Vec<Campaign>> {
        let mut all: Vec<Campaign> = self.read().campaigns.values().cloned().collect();
        all.sort_by(|a, b| {
            b.create_time
                .cmp(&a.create_time)
                .then_with(|| a.name.cmp(&b.name))
        });
        Ok(all)
    }

    async fn replace_campaign(&self, campaign: &Campaign) -> StorageResult<()> {
        let mut inner = self.write();
        match inner.campaigns.get_mut(&campaign.name) {
            Some(c) => {
                *c = campaign.clone();
                Ok(())
            }
            None => Err(StorageError::NotFound),
        }
    }

    async fn delete_campaign(&self, name: &str) -> StorageResult<()> {
        let mut inner = self.write();
        if inner.campaigns.remove(name).is_none() {
            return Err(StorageError::NotFound);
        }
        let days = inner.campaign_days(name, Day::MAX);
        inner.remove_days(days);
        let aggs: Vec<DayKey> = inner
            .aggregations
            .range((name.to_string(), Day::MIN)..=(name.to_string(), Day::MAX))
            .map(|(k, _)| k.clone())
            .collect();
        for k in aggs {
            inner.aggregations.remove(&k);
        }
        Ok(())
    }

    async fn create_client(&self, client: &Client) -> StorageResult<()> {
        let mut inner = self.write();
        if inner.clients.contains_key(&client.name) {
            return Err(StorageError::AlreadyExists);
        }
        inner
            .clients_by_time
            .insert((client.create_time, client.name.clone()));
        inner.clients.insert(client.name.clone(), client.clone());
        Ok(())
    }

    async fn get_client(&self, name: &str) -> StorageResult<Option<ClientDetails>> {
        let inner = self.read();
        Ok(inner.clients.get(name).map(|client| ClientDetails {
            client: client.clone(),
            latest_activity: inner
                .activity_by_client
                .get(name)
                .and_then(|keys| keys.last())
                .and_then(|k| inner.activity.get(k))
                .cloned(),
        }))
    }

    async fn replace_client(&self, client: &Client) -> StorageResult<()> {
        let mut inner = self.write();
        let Some(old) = inner.clients.get(&client.name).cloned() else {
            return Err(StorageError::NotFound);
        };
        inner.clients_by_time.remove(&(old.create_time, old.name));
        inner
            .clients_by_time
            .insert((client.create_time, client.name.clone()));
        inner.clients.insert(client.name.clone(), client.clone());
        Ok(())
    }

    async fn delete_client(&self, name: &str) -> StorageResult<()> {
        if self.write().remove_client(name) {
            Ok(())
        } else {
            Err(StorageError::NotFound)
        }
    }

    async fn list_clients(
        &self,
        limit: usize,
        after: Option<&ClientCursor>,
    ) -> StorageResult<Vec<Client>> {
        let inner = self.read();
        let iter: Box<dyn Iterator<Item = &(DateTime<Utc>, String)>> = match after {
            Some(c) => Box::new(
                inner
                    .clients_by_time
                    .range(..(c.create_time, c.name.clone()))
                    .rev(),
            ),
            None => Box::new(inner.clients_by_time.iter().rev()),
        };
        Ok(iter
            .take(limit)
            .filter_map(|(_, name)| inner.clients.get(name).cloned())
            .collect())
    }

    async fn count_clients(&self) -> StorageResult<u64> {
        Ok(self.read().clients.len() as u64)
    }

    async fn list_activity(
        &self,
        client: Option<&str>,
        since: Option<DateTime<Utc>>,
    ) -> StorageResult<Vec<Activity>> {
        let inner = self.read();
        let from = (since.unwrap_or(DateTime::<Utc>::MIN_UTC), 0);
        let mut out: Vec<Activity> = match client {
            Some(name) => inner
                .activity_by_client
                .get(name)
                .map(|keys| {
                    keys.range(from..)
                        .filter_map(|k| inner.activity.get(k).cloned())
                        .collect()
                })
                .unwrap_or_default(),
            None => inner
                .activity
                .range(from..)
                .map(|(_, a)| a.clone())
                .collect(),
        };
        out.sort_by(|a, b| {
            a.time
                .cmp(&b.time)
                .then_with(|| a.client_name.cmp(&b.client_name))
        });
        Ok(out)
    }

    async fn active_clients(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StorageResult<Vec<Client>> {
        let inner = self.read();
        let names: BTreeSet<&str> = inner
            .activity
            .range((from, 0)..(to, 0))
            .map(|(_, a)| a.client_name.as_str())
            .collect();
        Ok(names
            .into_iter()
            .filter_map(|n| inner.clients.get(n).cloned())
            .collect())
    }

    async fn activity_times(
        &self,
        clients: &[String],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StorageResult<Vec<(String, DateTime<Utc>)>> {
        let inner = self.read();
        let mut out = Vec::new();
        for client in clients {
            if let Some(keys) = inner.activity_by_client.get(client) {
                out.extend(
                    keys.range((from, 0)..(to, 0))
                        .map(|k| (client.clone(), k.0)),
                );
            }
        }
        Ok(out)
    }

    async fn record_ping(&self, activity: &Activity) -> StorageResult<Option<Vec<OpenSketch>>> {
        let mut inner = self.write();
        if !inner.clients.contains_key(&activity.client_name) {
            return Ok(None);
        }
        inner.activity_seq += 1;
        let key = (activity.time, inner.activity_seq);
        inner.activity.insert(key, activity.clone());
        inner
            .activity_by_client
            .entry(activity.client_name.clone())
            .or_default()
            .insert(key);
        let Some(keys) = inner.sketches_by_client.get(&activity.client_name) else {
            return Ok(Some(Vec::new()));
        };
        let mut open: Vec<&Sketch> = keys
            .iter()
            .filter_map(|name| inner.sketches.get(name))
            .filter(|s| !s.submitted)
            .collect();
        open.sort_by(|a, b| {
            (&a.campaign_name, a.day, &a.name).cmp(&(&b.campaign_name, b.day, &b.name))
        });
        let open = open
            .into_iter()
            .map(|s| OpenSketch {
                sketch: s.clone(),
                public_keys: inner
                    .groups
                    .get(&(s.campaign_name.clone(), s.day, s.group))
                    .map(|g| g.public_keys.clone())
                    .unwrap_or_default(),
            })
            .collect();
        Ok(Some(open))
    }

    async fn prune_clients(&self, threshold: DateTime<Utc>) -> StorageResult<u64> {
        let mut inner = self.write();
        let doomed: Vec<String> = inner
            .clients_by_time
            .range(..(threshold, String::new()))
            .filter(|(_, name)| {
                inner
                    .activity_by_client
                    .get(name)
                    .and_then(|keys| keys.last())
                    .is_none_or(|k| k.0 < threshold)
            })
            .map(|(_, name)| name.clone())
            .collect();
        for name in &doomed {
            inner.remove_client(name);
        }
        Ok(doomed.len() as u64)
    }

    async fn delete_activity_before(&self, before: DateTime<Utc>) -> StorageResult<u64> {
        let mut inner = self.write();
        let keys: Vec<ActivityKey> = inner
            .activity
            .range(..(before, 0))
            .map(|(k, _)| *k)
            .collect();
        for k in &keys {
            inner.remove_activity_key(k);
        }
        Ok(keys.len() as u64)
    }

    async fn get_sketch(&self, name: &str) -> StorageResult<Option<Sketch>> {
        Ok(self.read().sketches.get(name).cloned())
    }

    async fn create_day_sketches(&self, day: &DaySketches) -> StorageResult<()> {
        let mut inner = self.write();
        let day_key = (day.campaign_name.clone(), day.day);
        let exists = inner
            .groups
            .range((day_key.0.clone(), day_key.1, 0)..=(day_key.0.clone(), day_key.1, u32::MAX))
            .next()
            .is_some();
        if exists || inner.sketches_by_day.contains_key(&day_key) {
            return Err(StorageError::AlreadyExists);
        }
        if day
            .sketches
            .iter()
            .any(|s| inner.sketches.contains_key(&s.name))
        {
            return Err(StorageError::AlreadyExists);
        }
        for g in &day.groups {
            inner
                .groups
                .insert((g.campaign_name.clone(), g.day, g.group), g.clone());
        }
        let mut names = Vec::with_capacity(day.sketches.len());
        for s in &day.sketches {
            inner
                .sketches_by_client
                .entry(s.client_name.clone())
                .or_default()
                .push(s.name.clone());
            inner.sketches.insert(s.name.clone(), s.clone());
            names.push(s.name.clone());
        }
        inner.sketches_by_day.insert(day_key, names);
        Ok(())
    }

    async fn submit(&self, submission: &Submission) -> StorageResult<SubmitOutcome> {
        let mut inner = self.write();
        let inner = &mut *inner;
        let Some(sketch) = inner.sketches.get_mut(&submission.sketch_name) else {
            return Ok(SubmitOutcome::NotFound);
        };
        if sketch.submitted {
            return Ok(SubmitOutcome::AlreadySubmitted);
        }
        let group_key = (sketch.campaign_name.clone(), sketch.day, sketch.group);
        let Some(group) = inner.groups.get_mut(&group_key) else {
            return Err(StorageError::Failure(format!(
                "sketch {} has no group",
                submission.sketch_name
            )));
        };
        sketch.submitted = true;
        group.submitted += 1;
        if let Some(values) = &submission.encrypted {
            group.encrypted += 1;
            crypto::fold(&mut group.sum, values);
        }
        if let Some(raw) = &submission.raw {
            let sum = inner
                .raw_sums
                .entry((group_key.0.clone(), group_key.1))
                .or_default();
            add_counts(sum, raw);
        }
        Ok(SubmitOutcome::Accepted)
    }

    async fn day_groups(&self, campaign: &str, day: Day) -> StorageResult<Vec<Group>> {
        let inner = self.read();
        Ok(inner
            .groups
            .range((campaign.to_string(), day, 0)..=(campaign.to_string(), day, u32::MAX))
            .map(|(_, g)| g.clone())
            .collect())
    }

    async fn day_raw_sum(&self, campaign: &str, day: Day) -> StorageResult<Option<Vec<i64>>> {
        Ok(self
            .read()
            .raw_sums
            .get(&(campaign.to_string(), day))
            .cloned())
    }

    async fn delete_sketches_before(&self, campaign: &str, before: Day) -> StorageResult<u64> {
        let mut inner = self.write();
        let days = inner.campaign_days(campaign, before);
        Ok(inner.remove_days(days))
    }

    async fn delete_orphan_sketches(&self) -> StorageResult<u64> {
        let mut inner = self.write();
        let orphan_clients: Vec<String> = inner
            .sketches_by_client
            .keys()
            .filter(|c| !inner.clients.contains_key(*c))
            .cloned()
            .collect();
        let mut removed = 0;
        // Names to drop from each day's list, so that each list is filtered once.
        let mut doomed: HashMap<DayKey, HashSet<String>> = HashMap::new();
        for client in orphan_clients {
            for name in inner.sketches_by_client.remove(&client).unwrap_or_default() {
                if let Some(s) = inner.sketches.remove(&name) {
                    doomed
                        .entry((s.campaign_name, s.day))
                        .or_default()
                        .insert(name);
                    removed += 1;
                }
            }
        }
        for (day, names) in doomed {
            if let Some(list) = inner.sketches_by_day.get_mut(&day) {
                list.retain(|n| !names.contains(n));
            }
        }
        let orphan_days: Vec<DayKey> = inner
            .sketches_by_day
            .keys()
            .chain(inner.raw_sums.keys())
            .chain(
                inner
                    .groups
                    .keys()
                    .map(|k| (k.0.clone(), k.1))
                    .collect::<Vec<_>>()
                    .iter(),
            )
            .filter(|(c, _)| !inner.campaigns.contains_key(c))
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        removed += inner.remove_days(orphan_days);
        Ok(removed)
    }

    async fn put_aggregation(&self, aggregation: &Aggregation) -> StorageResult<()> {
        self.write().aggregations.insert(
            (aggregation.campaign_name.clone(), aggregation.day),
            aggregation.clone(),
        );
        Ok(())
    }

    async fn list_aggregations(&self, campaign: &str) -> StorageResult<Vec<Aggregation>> {
        let inner = self.read();
        Ok(inner
            .aggregations
            .range((campaign.to_string(), Day::MIN)..=(campaign.to_string(), Day::MAX))
            .rev()
            .map(|(_, a)| a.clone())
            .collect())
    }

    async fn get_aggregation(
        &self,
        campaign: &str,
        day: Day,
    ) -> StorageResult<Option<Aggregation>> {
        Ok(self
            .read()
            .aggregations
            .get(&(campaign.to_string(), day))
            .cloned())
    }

    async fn last_completed(&self, job: &str) -> StorageResult<Option<DateTime<Utc>>> {
        Ok(self.read().jobs.get(job).and_then(|j| j.completed))
    }

    async fn claim_job(
        &self,
        job: &str,
        firing: DateTime<Utc>,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> StorageResult<bool> {
        let mut inner = self.write();
        let state = inner.jobs.entry(job.to_string()).or_default();
        if state.completed.is_some_and(|c| c >= firing) {
            return Ok(false);
        }
        if let Some((holder, until)) = &state.claim {
            if holder != owner && *until > now {
                return Ok(false);
            }
        }
        state.claim = Some((owner.to_string(), lease_until));
        Ok(true)
    }

    async fn complete_job(
        &self,
        job: &str,
        firing: DateTime<Utc>,
        owner: &str,
    ) -> StorageResult<()> {
        let mut inner = self.write();
        let state = inner.jobs.entry(job.to_string()).or_default();
        state.completed = Some(state.completed.map_or(firing, |c| c.max(firing)));
        if state.claim.as_ref().is_some_and(|(o, _)| o == owner) {
            state.claim = None;
        }
        Ok(())
    }

    async fn release_job(&self, job: &str, owner: &str) -> StorageResult<()> {
        let mut inner = self.write();
        if let Some(state) = inner.jobs.get_mut(job) {
            if state.claim.as_ref().is_some_and(|(o, _)| o == owner) {
                state.claim = None;
            }
        }
        Ok(())
    }
}
