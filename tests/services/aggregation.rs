//! Aggregation: complete and incomplete groups, garbage sums, cancelling blinds, the grace
//! window and idempotence.

use chrono::NaiveDate;
use rand::Rng;

use pdd_server::domain::campaign::CampaignInput;
use pdd_server::domain::export::ExportRow;
use pdd_server::domain::service::jobs::JobKind;
use pdd_server::domain::sketch::{Aggregation, Stats};

use crate::support::*;

fn stats(active: u64, submitted: u64, decrypted: u64, rejected: u64) -> Stats {
    Stats {
        active_count: active,
        submitted_count: submitted,
        decrypted_count: decrypted,
        rejected_count: rejected,
    }
}

async fn result(w: &World, campaign: &str, day: i64) -> Aggregation {
    w.services.campaigns.result(campaign, day).await.unwrap().1
}

fn strings(v: &[&str]) -> Option<Vec<String>> {
    Some(v.iter().map(|s| s.to_string()).collect())
}

#[tokio::test]
async fn aggregation_counts_only_the_group_that_completed_and_is_idempotent() {
    let w = World::new();
    let campaign = w
        .campaign(CampaignInput {
            collect_raw: Some(true),
            ..campaign_input(2, 0, 0)
        })
        .await;
    let clients = day_zero(&w, 4).await;
    let groups = groups_seen(&w, &clients, &campaign, on_day(1, "10:00")).await;
    assert_eq!(groups.len(), 2);
    let mut groups = groups.into_values();
    let (complete, partial) = (groups.next().unwrap(), groups.next().unwrap());
    let mut rng = rng();
    submit_group(&w, &complete, &[vec![5, 2, 3], vec![4, 0, 1]], &mut rng).await;
    submit_group(&w, &partial[..1], &[vec![7, 1, 1]], &mut rng).await;

    let report = w.run(JobKind::AggregateSketches, on_day(2, "00:30")).await;
    assert_eq!(report.get("aggregated"), 1);
    let expected = Aggregation {
        campaign_name: campaign.name.clone(),
        day: 0,
        stats: stats(4, 3, 2, 0),
        decrypted_values: vec![9, 2, 4],
        raw_values: vec![16, 3, 5],
        withheld: false,
    };
    let (_, result) = w
        .services
        .campaigns
        .result(&campaign.name, 0)
        .await
        .unwrap();
    assert_eq!(result, expected);
    assert_eq!(result.name(), format!("{}-0", campaign.name));
    let date = NaiveDate::from_ymd_opt(2018, 5, 10).unwrap();
    let row = |query: &str, count| ExportRow {
        date,
        query: query.into(),
        count: Some(count),
    };
    assert_eq!(
        w.services
            .campaigns
            .export(&campaign.name, Some(0))
            .await
            .unwrap(),
        vec![row("_total", 9), row("flu", 2), row("flu, fever", 4)]
    );

    // Running the same firing again gives the same results.
    let again = w.run(JobKind::AggregateSketches, on_day(2, "00:30")).await;
    assert_eq!(again, report);
    let (_, results) = w.services.campaigns.results(&campaign.name).await.unwrap();
    assert_eq!(results, vec![expected]);
}

#[tokio::test]
async fn group_with_garbage_sum_is_not_decryptable_and_does_not_panic() {
    let w = World::new();
    let campaign = w.campaign(campaign_input(2, 0, 0)).await;
    let clients = day_zero(&w, 6).await;
    let groups: Vec<_> = groups_seen(&w, &clients, &campaign, on_day(1, "10:00"))
        .await
        .into_values()
        .collect();
    assert_eq!(groups.len(), 3);
    let mut rng = rng();
    submit_group(&w, &groups[0], &[vec![3, 1, 2], vec![2, 2, 0]], &mut rng).await;
    // Sum −7: negative.
    w.submit(
        &groups[1][0].1.sketch_name,
        strings(&["-10", "0", "0"]),
        None,
    )
    .await
    .unwrap();
    w.submit(&groups[1][1].1.sketch_name, strings(&["3", "0", "0"]), None)
        .await
        .unwrap();
    // Sum 2^63: does not fit a signed 64-bit integer.
    w.submit(
        &groups[2][0].1.sketch_name,
        strings(&["1", "9223372036854775807", "1"]),
        None,
    )
    .await
    .unwrap();
    w.submit(&groups[2][1].1.sketch_name, strings(&["1", "1", "1"]), None)
        .await
        .unwrap();

    let report = w.run(JobKind::AggregateSketches, on_day(2, "00:30")).await;
    assert_eq!(report.get("aggregated"), 1);
    let (_, result) = w
        .services
        .campaigns
        .result(&campaign.name, 0)
        .await
        .unwrap();
    assert_eq!(result.stats, stats(6, 6, 2, 4));
    assert_eq!(result.decrypted_values, vec![5, 3, 2]);
    assert_eq!(result.raw_values, Vec::<i64>::new());
}

#[tokio::test]
async fn cancelling_blinding_factors_decrypt_to_the_true_totals() {
    let w = World::new();
    let campaign = w
        .campaign(CampaignInput {
            vocabulary: Some(vec![
                exact("flu"),
                terms(&["flu", "fever"]),
                exact("cold"),
                exact("cough"),
            ]),
            ..campaign_input(4, 0, 0)
        })
        .await;
    let clients = day_zero(&w, 10).await;
    let groups = groups_seen(&w, &clients, &campaign, on_day(1, "10:00")).await;
    let mut sizes: Vec<usize> = groups.values().map(Vec::len).collect();
    sizes.sort();
    assert_eq!(sizes, vec![3, 3, 4]);

    let mut rng = rng();
    let mut totals = vec![0i64; 5];
    let mut digits = Vec::new();
    let mut negatives = 0;
    for members in groups.values() {
        let blinds = cancelling_blinds(members.len(), 5, &mut rng);
        for (i, (_, command)) in members.iter().enumerate() {
            let counts: Vec<i64> = (0..5).map(|_| rng.gen_range(0..50)).collect();
            for (t, c) in totals.iter_mut().zip(&counts) {
                *t += c;
            }
            let values = blinded(&counts, &blinds[i]);
            for v in &values {
                digits.push(v.trim_start_matches('-').len());
                negatives += usize::from(v.starts_with('-'));
            }
            w.submit(&command.sketch_name, Some(values), None)
                .await
                .unwrap();
        }
    }
    // Values as the extension sends them: signed decimals of about 77 digits.
    assert!(digits.iter().all(|d| (70..=77).contains(d)), "{digits:?}");
    assert!(negatives > 0 && negatives < digits.len());

    w.run(JobKind::AggregateSketches, on_day(2, "00:30")).await;
    let (_, result) = w
        .services
        .campaigns
        .result(&campaign.name, 0)
        .await
        .unwrap();
    assert_eq!(result.stats, stats(10, 10, 10, 0));
    assert_eq!(result.decrypted_values, totals);
}

#[tokio::test]
async fn grace_window_re_aggregates_late_submissions_then_leaves_the_day_alone() {
    let w = World::new();
    let campaign = w.campaign(campaign_input(2, 0, 2)).await;
    let clients = day_zero(&w, 2).await;
    let groups = groups_seen(&w, &clients, &campaign, on_day(1, "10:00")).await;
    let members = groups.values().next().unwrap();
    let mut rng = rng();
    let blinds = cancelling_blinds(2, 3, &mut rng);
    let counts = [vec![2, 1, 0], vec![5, 0, 4]];
    w.set(on_day(1, "10:00"));
    w.submit(
        &members[0].1.sketch_name,
        Some(blinded(&counts[0], &blinds[0])),
        None,
    )
    .await
    .unwrap();

    // First aggregation of day 0 (end_day 0): one member missing.
    let report = w.run(JobKind::AggregateSketches, on_day(2, "00:30")).await;
    assert_eq!(report.get("aggregated"), 1);
    assert_eq!(result(&w, &campaign.name, 0).await.stats, stats(2, 1, 0, 0));
    assert_eq!(
        result(&w, &campaign.name, 0).await.decrypted_values,
        Vec::<i64>::new()
    );
    let report = w.run(JobKind::AggregateSketches, on_day(3, "00:30")).await;
    assert_eq!(report.get("aggregated"), 2); // days 0 and 1

    // The late member submits on day 3, within the grace window (open while day < 4).
    w.set(on_day(3, "10:00"));
    w.submit(
        &members[1].1.sketch_name,
        Some(blinded(&counts[1], &blinds[1])),
        None,
    )
    .await
    .unwrap();
    let report = w.run(JobKind::AggregateSketches, on_day(4, "00:30")).await;
    assert_eq!(report.get("aggregated"), 3); // days 0, 1 and 2
    let final_day0 = result(&w, &campaign.name, 0).await;
    assert_eq!(final_day0.stats, stats(2, 2, 2, 0));
    assert_eq!(final_day0.decrypted_values, vec![7, 1, 4]);

    // Past its grace window day 0 is no longer touched.
    let report = w.run(JobKind::AggregateSketches, on_day(5, "00:30")).await;
    assert_eq!(report.get("aggregated"), 3); // days 1, 2 and 3
    assert_eq!(result(&w, &campaign.name, 0).await, final_day0);
    let (_, results) = w.services.campaigns.results(&campaign.name).await.unwrap();
    let days: Vec<i64> = results.iter().map(|r| r.day).collect();
    assert_eq!(days, vec![3, 2, 1, 0]);
    assert_eq!(results[0].stats, stats(0, 0, 0, 0));
}

#[tokio::test]
async fn aggregation_waits_for_the_delay_and_skips_days_after_the_end() {
    let w = World::new();
    let campaign = w
        .campaign(CampaignInput {
            end_time: Some(on_day(1, "12:00")),
            ..campaign_input(2, 1, 0)
        })
        .await;
    day_zero(&w, 2).await;
    // Day 0 with delay 1 is first aggregated on day 3.
    let report = w.run(JobKind::AggregateSketches, on_day(2, "00:30")).await;
    assert_eq!(report.get("aggregated"), 0);
    let report = w.run(JobKind::AggregateSketches, on_day(3, "00:30")).await;
    assert_eq!(report.get("aggregated"), 1);
    // Day 1 is the campaign's last day; day 2 is never aggregated.
    let report = w.run(JobKind::AggregateSketches, on_day(5, "00:30")).await;
    assert_eq!(report.get("aggregated"), 0);
    let report = w.run(JobKind::AggregateSketches, on_day(4, "00:30")).await;
    assert_eq!(report.get("aggregated"), 1);
    let (_, results) = w.services.campaigns.results(&campaign.name).await.unwrap();
    let days: Vec<(i64, Stats)> = results.iter().map(|r| (r.day, r.stats)).collect();
    assert_eq!(days, vec![(1, stats(0, 0, 0, 0)), (0, stats(2, 0, 0, 0))]);
}
