//! Sketch submission: answers for unknown, invalid, repeated and late submissions, and what is
//! kept of a valid one.

use pdd_server::domain::campaign::CampaignInput;
use pdd_server::domain::service::jobs::JobKind;
use pdd_server::domain::service::ServiceError;

use crate::support::*;

const MALFORMED: &str = "should be a decimal integer of at most 100 digits";

#[tokio::test]
async fn submission_answers_not_found_invalid_already_submitted_and_window_closed() {
    let w = World::new();
    let campaign = w
        .campaign(CampaignInput {
            collect_raw: Some(true),
            ..campaign_input(2, 0, 0)
        })
        .await;
    let clients = day_zero(&w, 2).await;
    let mine = w.commands(&clients[0], &campaign, on_day(1, "10:00")).await;
    let theirs = w.commands(&clients[1], &campaign, on_day(1, "10:00")).await;
    let (sketch, other) = (&mine[0].sketch_name, &theirs[0].sketch_name);
    let s = |v: &[&str]| Some(v.iter().map(|x| x.to_string()).collect::<Vec<_>>());

    let unknown = w.submit("no-such-sketch", s(&["1", "2", "3"]), None).await;
    assert!(
        matches!(unknown, Err(ServiceError::NotFound)),
        "{unknown:?}"
    );

    assert_eq!(
        invalid(
            w.submit(sketch, s(&["1", "2"]), Some(vec![1, 2, 3, 4]))
                .await
        ),
        vec![
            "encryptedValues: should have 3 elements",
            "rawValues: should have 3 elements"
        ]
    );
    let too_long = "9".repeat(101);
    assert_eq!(
        invalid(w.submit(sketch, s(&["12a", "1.5", &too_long]), None).await),
        vec![
            format!("encryptedValues.0: {MALFORMED}"),
            format!("encryptedValues.1: {MALFORMED}"),
            format!("encryptedValues.2: {MALFORMED}"),
            "rawValues: is required".to_string(),
        ]
    );
    assert_eq!(
        invalid(w.submit(sketch, s(&["+1", " 1", "0x1"]), None).await),
        vec![
            format!("encryptedValues.0: {MALFORMED}"),
            format!("encryptedValues.1: {MALFORMED}"),
            format!("encryptedValues.2: {MALFORMED}"),
            "rawValues: is required".to_string(),
        ]
    );
    assert_eq!(
        invalid(
            w.submit(sketch, s(&["1", "2", "3"]), Some(vec![1, -1, 0]))
                .await
        ),
        vec!["rawValues.1: should not be negative"]
    );
    assert_eq!(
        invalid(w.submit(sketch, s(&["x"]), Some(vec![-1])).await),
        vec![
            "encryptedValues: should have 3 elements".to_string(),
            format!("encryptedValues.0: {MALFORMED}"),
            "rawValues: should have 3 elements".to_string(),
            "rawValues.0: should not be negative".to_string(),
        ]
    );
    // Refused submissions changed nothing.
    assert!(
        !w.storage
            .get_sketch(sketch)
            .await
            .unwrap()
            .unwrap()
            .submitted
    );
    let group = &w.storage.day_groups(&campaign.name, 0).await.unwrap()[0];
    assert_eq!((group.submitted, group.encrypted), (0, 0));
    assert_eq!(
        w.storage.day_raw_sum(&campaign.name, 0).await.unwrap(),
        None
    );

    let longest = format!("-{}", "9".repeat(100));
    w.submit(sketch, s(&[&longest, "0", "-0"]), Some(vec![3, 0, 1]))
        .await
        .unwrap();
    let again = w
        .submit(sketch, s(&["1", "2", "3"]), Some(vec![1, 1, 1]))
        .await;
    assert!(
        matches!(again, Err(ServiceError::AlreadySubmitted)),
        "{again:?}"
    );
    assert_eq!(
        w.storage.day_raw_sum(&campaign.name, 0).await.unwrap(),
        Some(vec![3, 0, 1])
    );

    // Day 0 with no delay closes at the start of day 2.
    w.set(on_day(2, "00:00"));
    let late = w
        .submit(other, s(&["1", "2", "3"]), Some(vec![1, 1, 1]))
        .await;
    assert!(matches!(late, Err(ServiceError::WindowClosed)), "{late:?}");
    assert!(
        !w.storage
            .get_sketch(other)
            .await
            .unwrap()
            .unwrap()
            .submitted
    );
}

#[tokio::test]
async fn raw_values_are_dropped_unless_the_campaign_collects_them() {
    let w = World::new();
    let plain = w.campaign(campaign_input(2, 0, 0)).await;
    let raw = w
        .campaign(CampaignInput {
            collect_raw: Some(true),
            ..campaign_input(2, 0, 0)
        })
        .await;
    let clients = day_zero(&w, 2).await;
    let mut rng = rng();
    let counts = vec![vec![4, 1, 3], vec![2, 2, 0]];
    for campaign in [&plain, &raw] {
        let groups = groups_seen(&w, &clients, campaign, on_day(1, "10:00")).await;
        assert_eq!(groups.len(), 1);
        let members = groups.values().next().unwrap();
        submit_group(&w, members, &counts, &mut rng).await;
    }
    assert_eq!(w.storage.day_raw_sum(&plain.name, 0).await.unwrap(), None);
    assert_eq!(
        w.storage.day_raw_sum(&raw.name, 0).await.unwrap(),
        Some(vec![6, 3, 3])
    );

    w.run(JobKind::AggregateSketches, on_day(2, "00:30")).await;
    let (_, plain_result) = w.services.campaigns.result(&plain.name, 0).await.unwrap();
    let (_, raw_result) = w.services.campaigns.result(&raw.name, 0).await.unwrap();
    assert_eq!(plain_result.decrypted_values, vec![6, 3, 3]);
    assert_eq!(plain_result.raw_values, Vec::<i64>::new());
    assert_eq!(raw_result.decrypted_values, vec![6, 3, 3]);
    assert_eq!(raw_result.raw_values, vec![6, 3, 3]);
}

#[tokio::test]
async fn encrypted_values_are_dropped_when_the_campaign_does_not_collect_them() {
    let w = World::new();
    let campaign = w
        .campaign(CampaignInput {
            collect_encrypted: Some(false),
            collect_raw: Some(true),
            ..campaign_input(2, 0, 0)
        })
        .await;
    let clients = day_zero(&w, 2).await;
    let groups = groups_seen(&w, &clients, &campaign, on_day(1, "10:00")).await;
    let members = groups.values().next().unwrap();
    assert!(members
        .iter()
        .all(|(_, c)| !c.collect_encrypted && c.collect_raw));
    // The extension sends [] when not collecting; a full vector is ignored as well.
    w.submit(&members[0].1.sketch_name, Some(vec![]), Some(vec![1, 1, 0]))
        .await
        .unwrap();
    w.submit(
        &members[1].1.sketch_name,
        Some(vec!["5".into(), "5".into(), "5".into()]),
        Some(vec![2, 0, 2]),
    )
    .await
    .unwrap();
    let group = &w.storage.day_groups(&campaign.name, 0).await.unwrap()[0];
    assert_eq!((group.submitted, group.encrypted), (2, 0));
    assert!(group.sum.is_empty());

    w.run(JobKind::AggregateSketches, on_day(2, "00:30")).await;
    let (_, result) = w
        .services
        .campaigns
        .result(&campaign.name, 0)
        .await
        .unwrap();
    assert_eq!(
        (
            result.stats.active_count,
            result.stats.submitted_count,
            result.stats.decrypted_count
        ),
        (2, 2, 0)
    );
    assert_eq!(result.decrypted_values, Vec::<i64>::new());
    assert_eq!(result.raw_values, vec![3, 1, 2]);
}
