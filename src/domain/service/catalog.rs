//! The campaigns as pings read them. Every ping needs every campaign (for its commands and the
//! vocabulary of the active ones), and copying them all out of storage at each ping cost more
//! than the rest of the ping; so a list read less than [`TTL`] ago (by the clock's monotonic
//! reading) is reused.
//!
//! [`CampaignCatalog`] wraps the campaign store: the campaign writes of this process pass
//! through it and make the snapshot outdated at once; those of another instance are seen
//! within [`TTL`]. Reading one campaign or the list through it goes to the store as before
//! (the dashboard and the jobs want them exact); only [`CampaignCatalog::snapshot`] is cached.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use parking_lot::Mutex;

use crate::domain::campaign::{Campaign, Vocabulary};
use crate::domain::shared::Shared;
use crate::ports::{CampaignStore, Clock, StorageResult};

/// How long a list of campaigns read from storage is reused.
pub const TTL: Duration = Duration::from_secs(1);

/// The campaign store with a shared, self-invalidating snapshot of every campaign.
pub struct CampaignCatalog {
    store: Arc<dyn CampaignStore>,
    clock: Arc<dyn Clock>,
    generation: AtomicU64,
    current: Mutex<Option<Arc<Snapshot>>>,
}

/// Every campaign as listed by storage at one moment.
pub struct Snapshot {
    generation: u64,
    /// The clock's monotonic reading when the list was asked for.
    read_at: Duration,
    pub campaigns: Vec<Campaign>,
    /// The distinct queries of the active campaigns, with the indices of the campaigns that were
    /// active when it was computed.
    vocabulary: Mutex<Option<(Vec<usize>, Shared<Vocabulary>)>>,
    /// Each campaign's vocabulary, and its first queries as the sketches of a shorter one ask
    /// for them (by campaign index and number of queries): shared by every ping's commands.
    vocabularies: Vec<Shared<Vocabulary>>,
    truncated: Mutex<HashMap<(usize, usize), Shared<Vocabulary>>>,
}

impl CampaignCatalog {
    pub fn new(store: Arc<dyn CampaignStore>, clock: Arc<dyn Clock>) -> Self {
        CampaignCatalog {
            store,
            clock,
            generation: AtomicU64::new(0),
            current: Mutex::new(None),
        }
    }

    /// Forgets the snapshot: after each write, once it is stored (or failed: it may have
    /// happened all the same).
    fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// The current snapshot, read again from storage when invalidated or older than [`TTL`].
    pub async fn snapshot(&self) -> StorageResult<Arc<Snapshot>> {
        // Read before listing: a write finishing meanwhile makes this snapshot outdated at once.
        let generation = self.generation.load(Ordering::SeqCst);
        let now = self.clock.monotonic();
        if let Some(s) = self.current.lock().as_ref() {
            if s.generation == generation && now.saturating_sub(s.read_at) < TTL {
                return Ok(s.clone());
            }
        }
        let campaigns = self.store.list_campaigns().await?;
        let snapshot = Arc::new(Snapshot::new(generation, now, campaigns));
        *self.current.lock() = Some(snapshot.clone());
        Ok(snapshot)
    }
}

#[async_trait]
impl CampaignStore for CampaignCatalog {
    async fn create_campaign(&self, campaign: &Campaign) -> StorageResult<()> {
        let result = self.store.create_campaign(campaign).await;
        self.invalidate();
        result
    }

    async fn get_campaign(&self, name: &str) -> StorageResult<Option<Campaign>> {
        self.store.get_campaign(name).await
    }

    async fn list_campaigns(&self) -> StorageResult<Vec<Campaign>> {
        self.store.list_campaigns().await
    }

    async fn replace_campaign(&self, campaign: &Campaign) -> StorageResult<()> {
        let result = self.store.replace_campaign(campaign).await;
        self.invalidate();
        result
    }

    async fn delete_campaign(&self, name: &str) -> StorageResult<()> {
        let result = self.store.delete_campaign(name).await;
        self.invalidate();
        result
    }
}

impl Snapshot {
    fn new(generation: u64, read_at: Duration, campaigns: Vec<Campaign>) -> Self {
        Snapshot {
            generation,
            read_at,
            vocabularies: campaigns
                .iter()
                .map(|c| Shared::new(c.vocabulary.clone()))
                .collect(),
            campaigns,
            vocabulary: Mutex::new(None),
            truncated: Mutex::new(HashMap::new()),
        }
    }

    /// The first `n` queries of the vocabulary of the campaign at `index` (all of them when it
    /// has no more), the same shared value for every ping of this snapshot.
    pub fn campaign_vocabulary(&self, index: usize, n: usize) -> Shared<Vocabulary> {
        let whole = &self.vocabularies[index];
        if n >= whole.queries.len() {
            return whole.clone();
        }
        self.truncated
            .lock()
            .entry((index, n))
            .or_insert_with(|| Shared::new(whole.truncated(n)))
            .clone()
    }

    /// The distinct queries of the campaigns active at `now`, in list order (newest campaign
    /// first). Computed once per set of active campaigns.
    pub fn active_vocabulary(&self, now: DateTime<Utc>) -> Shared<Vocabulary> {
        let active: Vec<usize> = self
            .campaigns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.active(now))
            .map(|(i, _)| i)
            .collect();
        let mut cached = self.vocabulary.lock();
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
        let vocabulary = Shared::new(Vocabulary { queries });
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
        let snapshot = Snapshot::new(
            0,
            Duration::ZERO,
            vec![
                campaign("new", &["flu", "fever"], Some(t(2000))),
                campaign("old", &["cold", "flu"], Some(t(1000))),
                campaign("draft", &["hay fever"], None),
            ],
        );
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
        // Asked again for the same campaigns: the same shared value.
        assert!(snapshot
            .active_vocabulary(t(2500))
            .ptr_eq(&snapshot.active_vocabulary(t(2600))));
    }

    #[test]
    fn campaign_vocabularies_are_shared_whole_and_truncated() {
        let snapshot = Snapshot::new(
            0,
            Duration::ZERO,
            vec![campaign("a", &["flu", "fever", "cold"], Some(t(0)))],
        );
        let q = |s: &str| Query::Exact(s.into());
        let whole = snapshot.campaign_vocabulary(0, 3);
        assert_eq!(whole.queries, vec![q("flu"), q("fever"), q("cold")]);
        assert!(whole.ptr_eq(&snapshot.campaign_vocabulary(0, 7)));
        let two = snapshot.campaign_vocabulary(0, 2);
        assert_eq!(two.queries, vec![q("flu"), q("fever")]);
        assert!(two.ptr_eq(&snapshot.campaign_vocabulary(0, 2)));
        assert_eq!(snapshot.campaign_vocabulary(0, 0).queries, vec![]);
    }

    /// A campaign store that counts the lists it answers.
    #[derive(Default)]
    struct Counting {
        campaigns: Mutex<Vec<Campaign>>,
        lists: AtomicU64,
    }

    #[async_trait]
    impl CampaignStore for Counting {
        async fn create_campaign(&self, campaign: &Campaign) -> StorageResult<()> {
            self.campaigns.lock().push(campaign.clone());
            Ok(())
        }
        async fn get_campaign(&self, name: &str) -> StorageResult<Option<Campaign>> {
            Ok(self
                .campaigns
                .lock()
                .iter()
                .find(|c| c.name == name)
                .cloned())
        }
        async fn list_campaigns(&self) -> StorageResult<Vec<Campaign>> {
            self.lists.fetch_add(1, Ordering::SeqCst);
            Ok(self.campaigns.lock().clone())
        }
        async fn replace_campaign(&self, campaign: &Campaign) -> StorageResult<()> {
            for c in self
                .campaigns
                .lock()
                .iter_mut()
                .filter(|c| c.name == campaign.name)
            {
                *c = campaign.clone();
            }
            Ok(())
        }
        async fn delete_campaign(&self, name: &str) -> StorageResult<()> {
            self.campaigns.lock().retain(|c| c.name != name);
            Ok(())
        }
    }

    fn names(snapshot: &Snapshot) -> Vec<&str> {
        snapshot.campaigns.iter().map(|c| c.name.as_str()).collect()
    }

    #[tokio::test]
    async fn writes_through_the_catalog_outdate_its_snapshot_at_once() {
        let store = Arc::new(Counting::default());
        let clock = Arc::new(crate::testing::ManualClock::new(t(0)));
        let catalog = CampaignCatalog::new(store.clone(), clock);
        assert!(names(&catalog.snapshot().await.unwrap()).is_empty());
        catalog
            .create_campaign(&campaign("a", &["flu"], None))
            .await
            .unwrap();
        assert_eq!(names(&catalog.snapshot().await.unwrap()), vec!["a"]);
        let mut renamed = campaign("a", &["flu", "cold"], None);
        renamed.display_name = "A".into();
        catalog.replace_campaign(&renamed).await.unwrap();
        assert_eq!(
            catalog.snapshot().await.unwrap().campaigns[0].display_name,
            "A"
        );
        catalog.delete_campaign("a").await.unwrap();
        assert!(names(&catalog.snapshot().await.unwrap()).is_empty());
        // Four snapshots after writes were read again; reads pass through.
        assert_eq!(store.lists.load(Ordering::SeqCst), 4);
        assert!(catalog.list_campaigns().await.unwrap().is_empty());
        assert_eq!(catalog.get_campaign("a").await.unwrap(), None);
        assert_eq!(store.lists.load(Ordering::SeqCst), 5);
    }

    #[tokio::test]
    async fn writes_of_another_instance_are_seen_once_the_snapshot_is_ttl_old() {
        let store = Arc::new(Counting::default());
        let clock = Arc::new(crate::testing::ManualClock::new(t(0)));
        let catalog = CampaignCatalog::new(store.clone(), clock.clone());
        assert!(names(&catalog.snapshot().await.unwrap()).is_empty());
        // Written past the catalog, as by another instance.
        store
            .create_campaign(&campaign("b", &["flu"], None))
            .await
            .unwrap();
        clock.advance(chrono::Duration::milliseconds(999));
        assert!(names(&catalog.snapshot().await.unwrap()).is_empty());
        // Setting the time back does not make the snapshot younger.
        clock.set(t(0));
        clock.advance(chrono::Duration::milliseconds(1));
        assert_eq!(names(&catalog.snapshot().await.unwrap()), vec!["b"]);
        assert_eq!(store.lists.load(Ordering::SeqCst), 2);
    }
}
