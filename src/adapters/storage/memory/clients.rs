//! The clients and their activity in memory.

use std::collections::BTreeSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{ActivityKey, MemoryStorage};
use crate::domain::client::{Activity, Client, ClientDetails};
use crate::domain::sketch::{OpenSketch, Sketch};
use crate::ports::storage::ClientCursor;
use crate::ports::{ClientStore, StorageError, StorageResult};

#[async_trait]
impl ClientStore for MemoryStorage {
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
        let row = activity.clone();
        let mut inner = self.write();
        if !inner.clients.contains_key(&activity.client_name) {
            return Ok(None);
        }
        inner.activity_seq += 1;
        let key = (activity.time, inner.activity_seq);
        inner.activity.insert(key, row);
        match inner.activity_by_client.get_mut(&activity.client_name) {
            Some(keys) => {
                keys.insert(key);
            }
            None => {
                inner
                    .activity_by_client
                    .insert(activity.client_name.clone(), [key].into());
            }
        }
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
                    .group_keys
                    .get(&s.campaign_name)
                    .and_then(|groups| groups.get(&(s.day, s.group)))
                    .cloned()
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
}
