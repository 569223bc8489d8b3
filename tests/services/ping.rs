//! Pings: commands per open sketch, vocabularies, keys and windows.

use chrono::Duration;

use pdd_server::domain::campaign::{CampaignInput, Query, Vocabulary};
use pdd_server::domain::client::Client;
use pdd_server::domain::service::catalog;
use pdd_server::domain::service::jobs::JobKind;
use pdd_server::domain::service::ping::{Command, PingInput};
use pdd_server::domain::service::ServiceError;

use crate::support::*;

fn q(s: &str) -> Query {
    Query::Exact(s.into())
}

fn qt(ts: &[&str]) -> Query {
    Query::Terms(ts.iter().map(|t| t.to_string()).collect())
}

/// The clients owning `keys`, in that order.
fn owners<'a>(clients: &'a [Client], keys: &[String]) -> Vec<&'a Client> {
    keys.iter()
        .map(|k| clients.iter().find(|c| c.public_key == *k).unwrap())
        .collect()
}

#[tokio::test]
async fn ping_with_two_campaigns_truncates_older_vocabulary_and_sorts_keys_by_client_name() {
    let w = World::new();
    let cold = w
        .campaign(CampaignInput {
            display_name: Some("Cold".into()),
            vocabulary: Some(vec![exact("flu"), terms(&["sore", "throat"])]),
            start_time: Some(london("2018-05-09 12:00")),
            group_size: Some(10),
            ..Default::default()
        })
        .await;
    w.set(london("2018-05-01 09:01"));
    let flu_input = CampaignInput {
        display_name: Some("Flu".into()),
        vocabulary: Some(vec![exact("flu"), terms(&["flu", "fever"]), exact("cold")]),
        start_time: Some(london(START)),
        group_size: Some(2),
        delay: Some(1),
        collect_raw: Some(true),
        ..Default::default()
    };
    let flu = w.campaign(flu_input.clone()).await;
    w.set(london("2018-05-01 09:02"));
    w.campaign(CampaignInput {
        display_name: Some("Later".into()),
        vocabulary: Some(vec![exact("hay fever")]),
        start_time: Some(london("2018-06-01 00:00")),
        ..Default::default()
    })
    .await;
    w.campaign(CampaignInput {
        display_name: Some("Over".into()),
        vocabulary: Some(vec![exact("measles")]),
        start_time: Some(london("2018-04-01 00:00")),
        end_time: Some(london("2018-04-20 00:00")),
        ..Default::default()
    })
    .await;
    let clients = w.register_many(4).await;
    w.ping_all(&clients, on_day(0, "12:00")).await;

    let report = w.run(JobKind::CreateSketches, on_day(1, "01:00")).await;
    assert_eq!(report.get("created"), 8);
    assert_eq!(report.get("groups"), 3);

    // The vocabulary grows after the sketches of day 0 were made.
    w.set(on_day(1, "09:00"));
    let mut grown = flu_input.clone();
    grown.vocabulary.as_mut().unwrap().push(exact("fever"));
    w.services.campaigns.update(&flu.name, grown).await.unwrap();

    let by_name = |mut clients: Vec<Client>| {
        clients.sort_by(|a, b| a.name.cmp(&b.name));
        clients
            .into_iter()
            .map(|c| c.public_key)
            .collect::<Vec<_>>()
    };
    let all_keys_by_name = by_name(clients.clone());
    let me = &clients[0];
    let response = w.ping(me, on_day(1, "10:00")).await;

    assert_eq!(response.submit.len(), 2);
    let (flu_cmd, cold_cmd) = if flu.name < cold.name {
        (&response.submit[0], &response.submit[1])
    } else {
        (&response.submit[1], &response.submit[0])
    };
    // Day 0 of flu was sketched with 3 queries: the fourth is not asked for.
    let flu_day0 = Vocabulary {
        queries: vec![q("flu"), qt(&["flu", "fever"]), q("cold")],
    };
    let flu_keys = flu_cmd.public_keys.to_vec();
    assert_eq!(
        *flu_cmd,
        Command {
            sketch_name: flu_cmd.sketch_name.clone(),
            start_time: utc("2018-05-09T23:00:00Z"),
            end_time: utc("2018-05-10T23:00:00Z"),
            vocabulary: flu_day0.clone().into(),
            public_keys: flu_keys.clone().into(),
            round: 0,
            collect_encrypted: true,
            collect_raw: true,
        }
    );
    let flu_group: Vec<Client> = owners(&clients, &flu_keys).into_iter().cloned().collect();
    assert_eq!(flu_group.len(), 2);
    assert!(flu_keys.contains(&me.public_key));
    assert_eq!(flu_keys, by_name(flu_group.clone()));
    assert_eq!(
        *cold_cmd,
        Command {
            sketch_name: cold_cmd.sketch_name.clone(),
            start_time: utc("2018-05-09T23:00:00Z"),
            end_time: utc("2018-05-10T23:00:00Z"),
            vocabulary: Vocabulary {
                queries: vec![q("flu"), qt(&["sore", "throat"])],
            }
            .into(),
            public_keys: all_keys_by_name.clone().into(),
            round: 1,
            collect_encrypted: true,
            collect_raw: false,
        }
    );
    // The partner sees the same keys in the same order.
    let partner = flu_group.iter().find(|c| c.name != me.name).unwrap();
    let partner_cmds = w.commands(partner, &flu, on_day(1, "10:05")).await;
    assert_eq!(partner_cmds.len(), 1);
    assert_eq!(*partner_cmds[0].public_keys, flu_keys);
    assert_ne!(partner_cmds[0].sketch_name, flu_cmd.sketch_name);

    // Distinct queries of the active campaigns only (newest campaign first).
    assert_eq!(
        *response.vocabulary,
        Vocabulary {
            queries: vec![
                q("flu"),
                qt(&["flu", "fever"]),
                q("cold"),
                q("fever"),
                qt(&["sore", "throat"]),
            ],
        }
    );
    let earliest = utc("2018-05-12T01:00:00Z"); // 02:00 BST tomorrow
    let spread = response.next_ping_time - earliest;
    assert!(
        spread >= Duration::zero() && spread < Duration::minutes(60),
        "{spread}"
    );
    assert_eq!(spread.num_seconds() % 60, 0);

    // Day 1: the new sketch asks for all four queries; the old one still for three.
    w.ping_all(&clients, on_day(1, "12:00")).await;
    w.run(JobKind::CreateSketches, on_day(2, "01:00")).await;
    // Cold's day 1 closed at the start of its day 3 (delay 0).
    let late = w
        .submit(&cold_cmd.sketch_name, Some(vec!["1".into(); 3]), None)
        .await;
    assert!(matches!(late, Err(ServiceError::WindowClosed)), "{late:?}");
    let response = w.ping(me, on_day(2, "10:00")).await;
    let summary: Vec<(i64, usize, usize)> = response
        .submit
        .iter()
        .map(|c| (c.round, c.vocabulary.queries.len(), c.public_keys.len()))
        .collect();
    let flu_part = vec![(0, 3, 2), (1, 4, 2)];
    let cold_part = vec![(2, 2, 4)];
    let expected: Vec<(i64, usize, usize)> = if flu.name < cold.name {
        [flu_part, cold_part].concat()
    } else {
        [cold_part, flu_part].concat()
    };
    assert_eq!(summary, expected);
    let day0 = response.submit.iter().find(|c| c.round == 0).unwrap();
    assert_eq!(*day0.vocabulary, flu_day0);
    assert_eq!(day0.sketch_name, flu_cmd.sketch_name);
    let cold2 = response.submit.iter().find(|c| c.round == 2).unwrap();
    assert_eq!(
        (cold2.start_time, cold2.end_time),
        (utc("2018-05-10T23:00:00Z"), utc("2018-05-11T23:00:00Z"))
    );
    assert_eq!(*cold2.public_keys, all_keys_by_name);

    // A submitted sketch is no longer asked for.
    w.submit(
        &flu_cmd.sketch_name,
        Some(vec!["5".into(); 4]),
        Some(vec![1; 4]),
    )
    .await
    .unwrap();
    let response = w.ping(me, on_day(2, "11:00")).await;
    let mut rounds: Vec<i64> = response.submit.iter().map(|c| c.round).collect();
    rounds.sort();
    assert_eq!(rounds, vec![1, 2]);
    assert!(!response
        .submit
        .iter()
        .any(|c| c.sketch_name == flu_cmd.sketch_name));
}

#[tokio::test]
async fn ping_of_unknown_client_is_not_found_and_records_nothing() {
    let w = World::new();
    let result = w
        .services
        .ping
        .ping("no-such-client", PingInput::default())
        .await;
    assert!(matches!(result, Err(ServiceError::NotFound)), "{result:?}");
    assert_eq!(w.storage.list_activity(None, None).await.unwrap(), vec![]);
}

#[tokio::test]
async fn ping_records_activity_with_version_and_timezone() {
    let w = World::new();
    let client = w.register(0).await;
    w.set(utc("2018-05-12T10:00:00.123Z"));
    w.services
        .ping
        .ping(
            &client.name,
            PingInput {
                ip: Some("127.0.0.1".parse().unwrap()),
                extension_version: Some("1.0.3".into()),
                timezone: Some("Europe/Paris".into()),
            },
        )
        .await
        .unwrap();
    let activity = w
        .services
        .clients
        .activity(Some(&client.name), None)
        .await
        .unwrap();
    assert_eq!(activity.len(), 1);
    assert_eq!(activity[0].time, utc("2018-05-12T10:00:00.123Z"));
    assert_eq!(activity[0].country_code, None);
    assert_eq!(activity[0].extension_version.as_deref(), Some("1.0.3"));
    assert_eq!(activity[0].timezone.as_deref(), Some("Europe/Paris"));
}

#[tokio::test]
async fn sketch_closes_exactly_when_relative_day_reaches_day_plus_two_plus_delays() {
    let w = World::new();
    let campaign = w.campaign(campaign_input(2, 1, 1)).await;
    let clients = day_zero(&w, 2).await;
    // Day 0 with delay 1 and graceDelay 1 is open while relative_day < 4: until local
    // midnight starting 2018-05-14, that is 23:00 UTC on the 13th.
    let last_open = utc("2018-05-13T22:59:59.999Z");
    let closed = utc("2018-05-13T23:00:00.000Z");
    let first = w.commands(&clients[0], &campaign, last_open).await;
    assert_eq!(first.len(), 1);
    w.set(last_open);
    w.submit(&first[0].sketch_name, Some(vec!["1".into(); 3]), None)
        .await
        .unwrap();

    let second = w.commands(&clients[1], &campaign, last_open).await;
    assert_eq!(second.len(), 1);
    assert_eq!(w.commands(&clients[1], &campaign, closed).await, vec![]);
    w.set(closed);
    let late = w
        .submit(&second[0].sketch_name, Some(vec!["1".into(); 3]), None)
        .await;
    assert!(matches!(late, Err(ServiceError::WindowClosed)), "{late:?}");
}

#[tokio::test]
async fn command_windows_follow_local_midnights_across_dst_changes() {
    // Spring: 2018-03-25 is 23 hours long in London.
    let w = World::new();
    w.set(utc("2018-03-01T00:00:00Z"));
    let spring = w
        .campaign(CampaignInput {
            start_time: Some(utc("2018-03-23T12:00:00Z")),
            ..campaign_input(2, 0, 0)
        })
        .await;
    let clients = w.register_many(3).await;
    w.ping(&clients[0], utc("2018-03-25T00:00:00.000Z")).await; // first instant of day 2
    w.ping(&clients[1], utc("2018-03-25T22:59:59.999Z")).await; // last instant of day 2
    w.ping(&clients[2], utc("2018-03-25T23:00:00.000Z")).await; // 00:00 BST: day 3
    let report = w
        .run(JobKind::CreateSketches, utc("2018-03-26T00:00:00Z")) // 01:00 BST
        .await;
    assert_eq!(report.get("created"), 2);
    let commands = w
        .commands(&clients[0], &spring, utc("2018-03-26T09:00:00Z"))
        .await;
    assert_eq!(commands.len(), 1);
    assert_eq!(commands[0].round, 2);
    assert_eq!(commands[0].start_time, utc("2018-03-25T00:00:00Z"));
    assert_eq!(commands[0].end_time, utc("2018-03-25T23:00:00Z"));
    assert_eq!(
        w.commands(&clients[2], &spring, utc("2018-03-26T09:00:00Z"))
            .await,
        vec![]
    );

    // Autumn: 2018-10-28 is 25 hours long.
    let w = World::new();
    w.set(utc("2018-10-01T00:00:00Z"));
    let autumn = w
        .campaign(CampaignInput {
            start_time: Some(utc("2018-10-27T11:00:00Z")),
            ..campaign_input(2, 0, 0)
        })
        .await;
    let clients = w.register_many(3).await;
    w.ping(&clients[0], utc("2018-10-27T23:00:00.000Z")).await; // 00:00 BST on the 28th
    w.ping(&clients[1], utc("2018-10-28T23:59:59.999Z")).await; // 23:59 GMT on the 28th
    w.ping(&clients[2], utc("2018-10-27T22:59:59.999Z")).await; // still the 27th: day 0
    let report = w
        .run(JobKind::CreateSketches, utc("2018-10-29T01:00:00Z")) // 01:00 GMT
        .await;
    assert_eq!(report.get("created"), 2);
    let commands = w
        .commands(&clients[1], &autumn, utc("2018-10-29T09:00:00Z"))
        .await;
    assert_eq!(commands.len(), 1);
    assert_eq!(commands[0].round, 1);
    assert_eq!(commands[0].start_time, utc("2018-10-27T23:00:00Z"));
    assert_eq!(commands[0].end_time, utc("2018-10-29T00:00:00Z"));
    assert_eq!(
        commands[0].end_time - commands[0].start_time,
        Duration::hours(25)
    );
}

#[tokio::test]
async fn ping_vocabulary_follows_campaign_changes_at_once() {
    let w = World::new();
    let client = w.register(0).await;
    let first = w.campaign(campaign_input(2, 0, 0)).await;
    let vocabulary = |queries: &[Query]| Vocabulary {
        queries: queries.to_vec(),
    };
    let flu = [q("flu"), qt(&["flu", "fever"])];
    assert_eq!(
        *w.ping(&client, on_day(0, "10:00")).await.vocabulary,
        vocabulary(&flu)
    );

    w.set(on_day(0, "10:01"));
    let second_input = CampaignInput {
        vocabulary: Some(vec![exact("cough")]),
        start_time: Some(on_day(0, "10:00")),
        ..campaign_input(2, 0, 0)
    };
    let second = w.campaign(second_input.clone()).await;
    let expected = [q("cough"), q("flu"), qt(&["flu", "fever"])];
    assert_eq!(
        *w.ping(&client, on_day(0, "10:02")).await.vocabulary,
        vocabulary(&expected)
    );

    let mut grown = second_input;
    grown.vocabulary.as_mut().unwrap().push(exact("flu"));
    grown.vocabulary.as_mut().unwrap().push(exact("sneeze"));
    w.services
        .campaigns
        .update(&second.name, grown)
        .await
        .unwrap();
    let expected = [q("cough"), q("flu"), q("sneeze"), qt(&["flu", "fever"])];
    assert_eq!(
        *w.ping(&client, on_day(0, "10:03")).await.vocabulary,
        vocabulary(&expected)
    );

    w.services
        .campaigns
        .delete(&first.name, true)
        .await
        .unwrap();
    let expected = [q("cough"), q("flu"), q("sneeze")];
    assert_eq!(
        *w.ping(&client, on_day(0, "10:04")).await.vocabulary,
        vocabulary(&expected)
    );
}

#[tokio::test]
async fn ping_sees_campaigns_written_by_another_instance_within_the_snapshot_lifetime() {
    let w = World::new();
    let client = w.register(0).await;
    assert_eq!(
        *w.ping(&client, on_day(0, "10:00")).await.vocabulary,
        Vocabulary::default()
    );
    let other = w.other_instance();
    other
        .campaigns
        .create(campaign_input(2, 0, 0))
        .await
        .unwrap();
    tokio::time::sleep(catalog::TTL + std::time::Duration::from_millis(50)).await;
    assert_eq!(
        *w.ping(&client, on_day(0, "10:01")).await.vocabulary,
        Vocabulary {
            queries: vec![q("flu"), qt(&["flu", "fever"])],
        }
    );
}
