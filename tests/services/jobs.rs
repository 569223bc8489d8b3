//! The nightly jobs other than aggregation: creating sketches (balanced groups, strategies,
//! idempotence), pruning clients and collecting garbage.

use std::collections::BTreeSet;

use pdd_server::domain::campaign::{Campaign, CampaignInput};
use pdd_server::domain::client::Client;
use pdd_server::domain::grouping::GroupStrategy;
use pdd_server::domain::service::jobs::JobKind;
use pdd_server::domain::service::ping::PingInput;
use pdd_server::domain::service::ServiceError;

use crate::support::*;

/// Sizes of the groups of a campaign-day, by group id.
async fn group_sizes(w: &World, campaign: &Campaign, day: i64) -> Vec<u32> {
    w.storage
        .day_groups(&campaign.name, day)
        .await
        .unwrap()
        .iter()
        .map(|g| g.size())
        .collect()
}

/// The public keys of the members of a campaign-day, in any group.
async fn members(w: &World, campaign: &Campaign, day: i64) -> BTreeSet<String> {
    w.storage
        .day_groups(&campaign.name, day)
        .await
        .unwrap()
        .into_iter()
        .flat_map(|g| g.public_keys)
        .collect()
}

fn keys(clients: &[&Client]) -> BTreeSet<String> {
    clients.iter().map(|c| c.public_key.clone()).collect()
}

/// Groups formed for `n` participants at `group_size`, checking each got at most one sketch.
async fn balanced(n: usize, group_size: i64) -> Vec<u32> {
    let w = World::new();
    let campaign = w.campaign(campaign_input(group_size, 0, 0)).await;
    let clients = day_zero(&w, n).await;
    let mut sketched = 0;
    for client in &clients {
        let commands = w.commands(client, &campaign, on_day(1, "10:00")).await;
        assert!(commands.len() <= 1);
        sketched += commands.len();
    }
    let sizes = group_sizes(&w, &campaign, 0).await;
    assert_eq!(sketched as u32, sizes.iter().sum::<u32>());
    sizes
}

#[tokio::test]
async fn five_participants_at_group_size_two_make_groups_of_three_and_two() {
    assert_eq!(balanced(5, 2).await, vec![3, 2]);
}

#[tokio::test]
async fn ten_participants_at_group_size_four_make_groups_of_four_three_and_three() {
    assert_eq!(balanced(10, 4).await, vec![4, 3, 3]);
}

#[tokio::test]
async fn a_lone_participant_gets_no_sketch() {
    assert_eq!(balanced(1, 2).await, Vec::<u32>::new());
    let w = World::new();
    w.campaign(campaign_input(10, 0, 0)).await;
    let client = w.register(0).await;
    w.ping(&client, on_day(0, "12:00")).await;
    let report = w.run(JobKind::CreateSketches, on_day(1, "01:00")).await;
    assert_eq!(report.get("created"), 0);
    assert_eq!(report.get("lone"), 1);
    assert_eq!(w.ping(&client, on_day(1, "10:00")).await.submit, vec![]);
}

#[tokio::test]
async fn create_sketches_run_twice_makes_no_duplicates() {
    let w = World::new();
    let campaign = w.campaign(campaign_input(3, 0, 0)).await;
    let clients = w.register_many(7).await;
    w.ping_all(&clients, on_day(0, "12:00")).await;
    let first = w.run(JobKind::CreateSketches, on_day(1, "01:00")).await;
    assert_eq!(first.get("created"), 7);
    assert_eq!(first.get("groups"), 3);
    let groups_before = w.storage.day_groups(&campaign.name, 0).await.unwrap();

    for at in [on_day(1, "01:00"), on_day(1, "13:00")] {
        let again = w.run(JobKind::CreateSketches, at).await;
        assert_eq!(again.get("created"), 0);
        assert_eq!(again.get("skipped"), 1);
    }
    assert_eq!(
        w.storage.day_groups(&campaign.name, 0).await.unwrap(),
        groups_before
    );
    assert_eq!(group_sizes(&w, &campaign, 0).await, vec![3, 2, 2]);
    for client in &clients {
        assert_eq!(
            w.commands(client, &campaign, on_day(1, "14:00"))
                .await
                .len(),
            1
        );
    }
}

#[tokio::test]
async fn create_sketches_takes_clients_active_yesterday_that_still_exist() {
    let w = World::new();
    let campaign = w.campaign(campaign_input(10, 0, 0)).await;
    let clients = w.register_many(5).await;
    w.ping(&clients[0], on_day(0, "00:00")).await;
    w.ping(&clients[1], on_day(0, "23:59")).await;
    w.ping(&clients[2], on_day(0, "12:00")).await;
    w.ping(&clients[3], on_day(1, "00:00")).await; // today, not yesterday
    w.ping(&clients[4], on_day(0, "12:00")).await;
    w.set(on_day(0, "23:00"));
    w.services.clients.delete(&clients[4].name).await.unwrap();
    // Before the start of day 1 nothing is due.
    let early = w.run(JobKind::CreateSketches, on_day(0, "23:00")).await;
    assert_eq!(early.get("created"), 0);
    w.run(JobKind::CreateSketches, on_day(1, "01:00")).await;
    assert_eq!(
        members(&w, &campaign, 0).await,
        keys(&[&clients[0], &clients[1], &clients[2]])
    );
    let group = &w.storage.day_groups(&campaign.name, 0).await.unwrap()[0];
    let mut by_name = [&clients[0], &clients[1], &clients[2]];
    by_name.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(
        group.public_keys,
        by_name
            .iter()
            .map(|c| c.public_key.clone())
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn sampling_rate_zero_sketches_nobody_and_one_everybody() {
    let w = World::new();
    let none = w
        .campaign(CampaignInput {
            sampling_rate: Some(0.0),
            ..campaign_input(2, 0, 0)
        })
        .await;
    let all = w
        .campaign(CampaignInput {
            sampling_rate: Some(1.0),
            ..campaign_input(2, 0, 0)
        })
        .await;
    day_zero(&w, 6).await;
    assert_eq!(group_sizes(&w, &none, 0).await, Vec::<u32>::new());
    assert_eq!(group_sizes(&w, &all, 0).await, vec![2, 2, 2]);
}

#[tokio::test]
async fn frequency_strategy_keeps_frequent_clients_and_everyone_without_history() {
    let w = World::with_strategy(GroupStrategy::Frequency);
    let strict = w.campaign(campaign_input(10, 0, 0)).await; // delay 0
    let half = w.campaign(campaign_input(10, 2, 0)).await; // share must exceed 1/2
    let loose = w.campaign(campaign_input(10, 3, 0)).await; // share must exceed 1/3
    let c = w.register_many(5).await;
    let (a, b, cc, d, e) = (&c[0], &c[1], &c[2], &c[3], &c[4]);
    let active: [&[&Client]; 4] = [&[a, e], &[a, b], &[a, b, cc], &[a, b, cc, d]];
    for (day, clients) in active.iter().enumerate() {
        for client in clients.iter() {
            w.ping(client, on_day(day as i64, "12:00")).await;
        }
        w.run(JobKind::CreateSketches, on_day(day as i64 + 1, "01:00"))
            .await;
    }
    // Days 0 and 1: no history to judge by, everyone is kept, even with delay 0.
    for campaign in [&strict, &half, &loose] {
        assert_eq!(members(&w, campaign, 0).await, keys(&[a, e]));
        assert_eq!(members(&w, campaign, 1).await, keys(&[a, b]));
        // Day 2 looks at day 1 only, where c was not active.
        assert_eq!(members(&w, campaign, 2).await, keys(&[a, b]));
    }
    // Day 3 looks at days 1 and 2: a and b were active on both, c on one, d on none.
    assert_eq!(members(&w, &strict, 3).await, keys(&[a, b]));
    assert_eq!(members(&w, &half, 3).await, keys(&[a, b]));
    assert_eq!(members(&w, &loose, 3).await, keys(&[a, b, cc]));
}

#[tokio::test]
async fn prune_deletes_inactive_clients_but_keeps_recently_created_ones() {
    let w = World::new();
    let old_silent = w.register(0).await; // 2018-05-01
    let old_lapsed = w.register(1).await;
    let old_active = w.register(2).await;
    w.set(london("2018-05-17 02:00")); // exactly the threshold of the run below
    let boundary = w.register(3).await;
    w.set(london("2018-05-25 12:00"));
    let recent = w.register(4).await;
    w.ping(&old_lapsed, london("2018-05-10 12:00")).await;
    w.ping(&old_active, london("2018-05-20 12:00")).await;

    let report = w
        .run(JobKind::PruneClients, london("2018-06-01 02:00"))
        .await;
    assert_eq!(report.get("pruned"), 2);
    let left: BTreeSet<String> = w
        .services
        .clients
        .list(None, None)
        .await
        .unwrap()
        .clients
        .into_iter()
        .map(|c| c.name)
        .collect();
    let expected: BTreeSet<String> = [&old_active, &boundary, &recent]
        .iter()
        .map(|c| c.name.clone())
        .collect();
    assert_eq!(left, expected);
    for gone in [&old_silent, &old_lapsed] {
        let ping = w.services.ping.ping(&gone.name, PingInput::default()).await;
        assert!(matches!(ping, Err(ServiceError::NotFound)), "{ping:?}");
    }
    assert_eq!(
        w.storage
            .list_activity(Some(&old_lapsed.name), None)
            .await
            .unwrap(),
        vec![]
    );
    let again = w
        .run(JobKind::PruneClients, london("2018-06-01 02:00"))
        .await;
    assert_eq!(again.get("pruned"), 0);
}

#[tokio::test]
async fn garbage_collection_keeps_what_can_still_be_aggregated() {
    let w = World::new();
    // Day d is open while relative_day < d + 4 and last aggregated on day d + 4.
    let campaign = w.campaign(campaign_input(2, 1, 1)).await;
    let clients = w.register_many(2).await;
    let leaver = w.register(9).await;
    let mut sketch_of_day = Vec::new();
    for d in 0..=6 {
        w.ping_all(&clients, on_day(d, "12:00")).await;
        if d == 6 {
            w.ping(&leaver, on_day(d, "12:00")).await;
        }
        w.run(JobKind::AggregateSketches, on_day(d + 1, "00:30"))
            .await;
        w.run(JobKind::CreateSketches, on_day(d + 1, "01:00")).await;
        let commands = w
            .commands(&clients[0], &campaign, on_day(d + 1, "01:30"))
            .await;
        let newest = commands.iter().find(|c| c.round == d).unwrap();
        sketch_of_day.push(newest.sketch_name.clone());
    }
    assert_eq!(group_sizes(&w, &campaign, 6).await, vec![3]);
    w.set(on_day(7, "02:30"));
    w.services.clients.delete(&leaver.name).await.unwrap();

    let report = w.run(JobKind::CollectGarbage, on_day(7, "03:00")).await;
    assert_eq!(report.get("sketches"), 6); // days 0, 1, 2 of two clients
    assert_eq!(report.get("orphans"), 1); // the leaver's sketch of day 6
    assert_eq!(report.get("activity"), 0);
    for (d, sketch) in sketch_of_day.iter().enumerate().take(3) {
        assert_eq!(w.storage.get_sketch(sketch).await.unwrap(), None);
        assert_eq!(
            group_sizes(&w, &campaign, d as i64).await,
            Vec::<u32>::new()
        );
    }
    for sketch in &sketch_of_day[3..] {
        assert!(w.storage.get_sketch(sketch).await.unwrap().is_some());
    }
    // The group of day 6 keeps its keys: the remaining members still blind with them.
    assert_eq!(group_sizes(&w, &campaign, 6).await, vec![3]);

    // Results stay; re-running today's aggregation finds the same data for days 3 and 4.
    let (_, before) = w.services.campaigns.results(&campaign.name).await.unwrap();
    assert_eq!(
        before.iter().map(|r| r.day).collect::<Vec<_>>(),
        vec![4, 3, 2, 1, 0]
    );
    w.run(JobKind::AggregateSketches, on_day(7, "00:30")).await;
    let (_, after) = w.services.campaigns.results(&campaign.name).await.unwrap();
    assert_eq!(after, before);

    // Day 4 can still be submitted (and aggregated); day 3 is closed.
    w.set(on_day(7, "10:00"));
    w.submit(&sketch_of_day[4], Some(vec!["1".into(); 3]), None)
        .await
        .unwrap();
    let late = w
        .submit(&sketch_of_day[3], Some(vec!["1".into(); 3]), None)
        .await;
    assert!(matches!(late, Err(ServiceError::WindowClosed)), "{late:?}");

    let again = w.run(JobKind::CollectGarbage, on_day(7, "03:00")).await;
    assert_eq!(
        (
            again.get("sketches"),
            again.get("orphans"),
            again.get("activity")
        ),
        (0, 0, 0)
    );

    // Much later everything is collected, activity included once past its retention.
    let pings = w.storage.list_activity(None, None).await.unwrap().len() as u64;
    let report = w.run(JobKind::CollectGarbage, on_day(80, "03:00")).await;
    assert_eq!(report.get("sketches"), 8);
    assert_eq!(report.get("activity"), pings);
    assert_eq!(w.storage.list_activity(None, None).await.unwrap(), vec![]);
}
