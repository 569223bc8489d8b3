//! Generic conformance cases for `Storage` adapters: each case is an async function taking a
//! fresh, empty storage and checking one part of the contract documented in
//! `src/ports/storage/`. The cases are organised as the port is, one file per role
//! (`campaigns.rs`, `clients.rs`, `client_days.rs`, `sketches.rs`, `aggregations.rs`,
//! `jobs.rs`); this module
//! holds the sum's own case, the factory's [`Instance`] and the macro.
//!
//! Instantiate the whole suite for an adapter with one macro call in this test binary (in
//! `main.rs`, or in a module such as `mysql.rs` declared there after
//! `#[macro_use] mod conformance;`):
//!
//! ```ignore
//! conformance_tests!(memory, || async { Arc::new(MemoryStorage::new()) as Arc<dyn Storage> });
//! ```
//!
//! It generates `mod <name>` with one `#[tokio::test]` (multi-threaded runtime) per case. The
//! factory is an expression evaluated inside that module (which does `use super::*`, so names
//! imported by the calling module are in scope): a closure called once per test, returning a
//! future whose output is any [`Instance`]:
//! - `Arc<dyn Storage>`: a fresh storage;
//! - `(Arc<dyn Storage>, G)` with `G: Send + 'static`: a storage and a guard kept alive until
//!   the test ends and dropped after it (e.g. one that drops a per-test database);
//! - `Option<T>` of either: `None` skips the test (printed on stderr), e.g. when no database
//!   server is reachable.
//!
//! All times are millisecond-precise (storage keeps milliseconds) and within the accepted
//! range, 1970-01-01T00:00:00.000Z to 9999-12-31T23:59:59.999Z.
//! Optional texts are never `Some("")` (legacy columns store absence as '').

mod aggregations;
mod campaigns;
mod client_days;
mod clients;
mod jobs;
mod sketches;

use std::any::Any;
use std::sync::Arc;

use pdd_server::ports::Storage;

pub use aggregations::*;
pub use campaigns::*;
pub use client_days::*;
pub use clients::*;
pub use jobs::*;
pub use sketches::*;

/// What a conformance factory may return; see the module doc.
pub trait Instance {
    /// The storage to test and a guard to drop after the test, or `None` to skip it.
    fn into_instance(self) -> Option<(Arc<dyn Storage>, Box<dyn Any + Send>)>;
}

impl Instance for Arc<dyn Storage> {
    fn into_instance(self) -> Option<(Arc<dyn Storage>, Box<dyn Any + Send>)> {
        Some((self, Box::new(())))
    }
}

impl<G: Send + 'static> Instance for (Arc<dyn Storage>, G) {
    fn into_instance(self) -> Option<(Arc<dyn Storage>, Box<dyn Any + Send>)> {
        Some((self.0, Box::new(self.1)))
    }
}

impl<T: Instance> Instance for Option<T> {
    fn into_instance(self) -> Option<(Arc<dyn Storage>, Box<dyn Any + Send>)> {
        self.and_then(Instance::into_instance)
    }
}

/// `conformance_tests!(name, factory)`: one `#[tokio::test]` per case, in `mod name`.
#[macro_export]
macro_rules! conformance_tests {
    ($backend:ident, $factory:expr) => {
        $crate::conformance_tests!(@cases $backend, $factory, [
            // the sum
            health_answers_ok_and_kind_is_named,
            // campaigns.rs
            campaign_round_trips_and_unknown_is_none,
            campaign_times_at_the_ends_of_the_accepted_range_round_trip,
            campaign_plausibility_bound_and_release_threshold_round_trip,
            create_campaign_with_taken_name_is_already_exists,
            list_campaigns_is_newest_first_with_ties_by_name,
            replace_campaign_replaces_and_unknown_is_not_found,
            delete_campaign_removes_its_aggregations_sketches_groups_and_raw_sums,
            delete_unknown_campaign_is_not_found,
            // clients.rs
            client_round_trips_and_unknown_is_none,
            create_client_with_taken_name_is_already_exists,
            get_client_has_latest_activity_by_time,
            replace_client_replaces_and_unknown_is_not_found,
            delete_client_removes_activity_keeps_sketches_and_unknown_is_not_found,
            list_clients_pages_newest_first_with_ties_by_name_descending,
            count_clients_counts_registered_clients,
            list_activity_is_oldest_first_with_ties_by_client_and_since_inclusive,
            record_ping_for_unknown_client_writes_nothing,
            record_ping_returns_open_sketches_by_campaign_then_day_with_group_keys,
            active_clients_are_distinct_existing_sorted_in_half_open_interval,
            activity_times_lists_given_clients_in_half_open_interval,
            prune_clients_deletes_old_clients_without_recent_activity,
            delete_activity_before_is_strict_and_counts,
            concurrent_pings_of_one_client_are_all_recorded,
            // client_days.rs
            count_client_day_counts_registrations_active_and_last_activity_in_half_open_day,
            count_client_day_again_replaces_the_day_and_its_breakdown,
            client_days_are_listed_oldest_first_in_the_closed_range_and_deleted_before,
            schema_version_answers,
            // sketches.rs
            create_day_sketches_stores_groups_and_sketches,
            create_day_sketches_twice_is_already_exists_and_writes_nothing,
            create_day_sketches_with_taken_sketch_name_writes_nothing,
            submit_unknown_sketch_is_not_found,
            submit_folds_encrypted_mod_ell_and_sums_raw,
            submit_twice_is_already_submitted_and_changes_nothing,
            submit_refuses_a_raw_sum_beyond_64_bits_and_changes_nothing,
            concurrent_submissions_to_one_group_are_each_counted_once,
            concurrent_creations_of_one_day_store_exactly_one,
            day_groups_and_raw_sum_of_unknown_day_are_empty,
            delete_sketches_before_removes_earlier_days_of_one_campaign,
            delete_orphan_sketches_removes_sketches_of_deleted_clients,
            delete_orphan_sketches_removes_everything_of_missing_campaigns,
            // aggregations.rs
            aggregations_are_upserted_and_listed_newest_day_first,
            aggregations_keep_rejected_count_and_withheld,
            // jobs.rs
            job_ledger_claims_completes_and_releases,
            job_claim_refuses_live_lease_of_another_owner_and_takes_expired_one,
            job_complete_keeps_the_later_firing,
            concurrent_claims_of_one_firing_grant_exactly_one,
            job_runs_round_trip_every_field,
            job_runs_are_newest_first_per_job_limited_and_ties_last_recorded_first,
            delete_job_runs_before_is_strict_across_jobs_and_counts,
        ]);
    };
    (@cases $backend:ident, $factory:expr, [$($case:ident),* $(,)?]) => {
        mod $backend {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let factory = $factory;
                    let Some((storage, guard)) =
                        $crate::conformance::Instance::into_instance(factory().await)
                    else {
                        eprintln!("{}: storage unavailable, test skipped", stringify!($backend));
                        return;
                    };
                    $crate::conformance::$case(storage).await;
                    drop(guard);
                }
            )*
        }
    };
}

// ---- the sum of the roles

pub async fn health_answers_ok_and_kind_is_named(s: Arc<dyn Storage>) {
    assert_eq!(s.health().await, Ok(()));
    assert!(!s.kind().is_empty());
}
