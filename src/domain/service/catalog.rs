//! The campaigns as pings read them. Every ping needs every campaign (for its commands and the
//! vocabulary of the active ones), and copying them all out of storage at each ping cost more
//! than the rest of the ping; so a list read less than [`TTL`] ago is reused. Changes made
//! through this process's campaign service are seen at once, those of another instance within
//! [`TTL`].

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::domain::campaign::{Campaign, Vocabulary};
use crate::ports::{Storage, StorageResult};

/// How long a list of campaigns read from storage is reused.
pub const TTL: Duration = Duration::from_secs(1);

// Nothing panics while these locks are held, so a poisoned lock still holds consistent data.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A shared, invalidatable snapshot of every campaign.
#[derive(Default)]
pub struct CampaignCatalog {
    generation: AtomicU64,
    current: Mutex<Option<Arc<Snapshot>>>,
}

/// Every campaign as listed by storage at one moment.
pub struct Snapshot {
    generation: u64,
    read_at: Instant,
    pub campaigns: Vec<Campaign>,
    /// The distinct queries of the active campaigns, with the indices of the campaigns that were
    /// active when it was computed.
    vocabulary: Mutex<Option<(Vec<usize>, Vocabulary)>>,
}

impl CampaignCatalog {
    /// Forgets the snapshot: to be called after each campaign write, once it is stored.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// The current snapshot, read again from storage when invalidated or older than [`TTL`].
    pub async fn snapshot(&self, storage: &dyn Storage) -> StorageResult<Arc<Snapshot>> {
        // Read before listing: a write finishing meanwhile makes this snapshot outdated at once.
        let generation = self.generation.load(Ordering::SeqCst);
        if let Some(s) = lock(&self.current).as_ref() {
            if s.generation == generation && s.read_at.elapsed() < TTL {
                return Ok(s.clone());
            }
        }
        let read_at = Instant::now();
        let campaigns = storage.list_campaigns().await?;
        let snapshot = Arc::new(Snapshot {
            generation,
            read_at,
            campaigns,
            vocabulary: Mutex::new(None),
        });
        *lock(&self.current) = Some(snapshot.clone());
        Ok(snapshot)
    }
}

impl Snapshot {
    /// The distinct queries of the campaigns active at `now`, in list order (newest campaign
    /// first). Computed once per set of active campaigns.
    pub fn active_vocabulary(&self, now: DateTime<Utc>) -> Vocabulary {
        let active: Vec<usize> = self
            .campaigns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.active(now))
            .map(|(i, _)| i)
            .collect();
        let mut cached = lock(&self.vocabulary);
        if let Some((key, vocabulary)) = cached.as_ref() {
            if *key == active {
                return vocabulary.clone();
            }
        }
        let total = active
            .iter()
            .map(|&i| self.campaigns[i].vocabulary.queries.len())
            .sum();
        let mut seen = HashSet::with_capacity(total);
        let queries = active
            .iter()
            .flat_map(|&i| self.campaigns[i].vocabulary.queries.iter())
            .filter(|q| seen.insert(*q))
            .cloned()
            .collect();
        let vocabulary = Vocabulary { queries };
        *cached = Some((active, vocabulary.clone()));
        vocabulary
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::campaign::{validate, CampaignInput, Query, QueryInput};

    fn campaign(name: &str, queries: &[&str], start: Option<DateTime<Utc>>) -> Campaign {
        validate(&CampaignInput {
            display_name: Some(name.into()),
            vocabulary: Some(
                queries
                    .iter()
                    .map(|q| QueryInput {
                        exact: Some(q.to_string()),
                        terms: None,
                    })
                    .collect(),
            ),
            start_time: start,
            ..Default::default()
        })
        .unwrap()
        .into_campaign(name.into(), DateTime::from_timestamp_millis(0).unwrap())
    }

    fn t(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(ms).unwrap()
    }

    #[test]
    fn active_vocabulary_follows_the_campaigns_active_at_each_instant() {
        let snapshot = Snapshot {
            generation: 0,
            read_at: Instant::now(),
            campaigns: vec![
                campaign("new", &["flu", "fever"], Some(t(2000))),
                campaign("old", &["cold", "flu"], Some(t(1000))),
                campaign("draft", &["hay fever"], None),
            ],
            vocabulary: Mutex::new(None),
        };
        let q = |s: &str| Query::Exact(s.into());
        assert_eq!(
            snapshot.active_vocabulary(t(1500)).queries,
            vec![q("cold"), q("flu")]
        );
        assert_eq!(
            snapshot.active_vocabulary(t(2500)).queries,
            vec![q("flu"), q("fever"), q("cold")]
        );
        assert_eq!(snapshot.active_vocabulary(t(500)).queries, vec![]);
    }
}
