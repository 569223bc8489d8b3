//! The sketches, their groups and the days' raw sums in memory.

use std::collections::{BTreeSet, HashMap, HashSet};

use async_trait::async_trait;

use super::{DayKey, MemoryStorage};
use crate::domain::crypto;
use crate::domain::shared::Shared;
use crate::domain::sketch::{add_counts, Group, Sketch, Submission};
use crate::domain::time::Day;
use crate::ports::storage::{DaySketches, SubmitOutcome};
use crate::ports::{SketchStore, StorageError, StorageResult};

#[async_trait]
impl SketchStore for MemoryStorage {
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
            // The keys are kept once, shared with the pings; the group row goes without them.
            let key = (g.campaign_name.clone(), g.day, g.group);
            let mut row = g.clone();
            let keys = std::mem::take(&mut row.public_keys);
            inner
                .group_keys
                .entry(g.campaign_name.clone())
                .or_default()
                .insert((g.day, g.group), Shared::new(keys));
            inner.groups.insert(key, row);
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
        // Every sum is computed before anything changes, so that a refusal changes nothing.
        let day_key = (group_key.0.clone(), group_key.1);
        let raw_sum = match &submission.raw {
            Some(raw) => {
                let mut sum = inner.raw_sums.get(&day_key).cloned().unwrap_or_default();
                add_counts(&mut sum, raw).map_err(|e| {
                    StorageError::Failure(format!(
                        "raw sum of {} day {}: {e}",
                        day_key.0, day_key.1
                    ))
                })?;
                Some(sum)
            }
            None => None,
        };
        let counted = (
            group.submitted.checked_add(1),
            group
                .encrypted
                .checked_add(u32::from(submission.encrypted.is_some())),
        );
        let (Some(submitted), Some(encrypted)) = counted else {
            return Err(StorageError::Failure("group counts overflow".into()));
        };
        sketch.submitted = true;
        group.submitted = submitted;
        group.encrypted = encrypted;
        if let Some(values) = &submission.encrypted {
            crypto::fold(&mut group.sum, values);
        }
        if let Some(sum) = raw_sum {
            inner.raw_sums.insert(day_key, sum);
        }
        Ok(SubmitOutcome::Accepted)
    }

    async fn day_groups(&self, campaign: &str, day: Day) -> StorageResult<Vec<Group>> {
        let inner = self.read();
        Ok(inner
            .groups
            .range((campaign.to_string(), day, 0)..=(campaign.to_string(), day, u32::MAX))
            .map(|(_, g)| Group {
                public_keys: inner
                    .group_keys
                    .get(campaign)
                    .and_then(|groups| groups.get(&(day, g.group)))
                    .map(|keys| keys.to_vec())
                    .unwrap_or_default(),
                ..g.clone()
            })
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
}
