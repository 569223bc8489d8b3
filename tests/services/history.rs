//! What the jobs leave for the operator's console: every run in the history, with the instance
//! that ran it, and the clients counted per day by garbage collection before their activity
//! goes.

use chrono::{Duration, NaiveDate};

use pdd_server::domain::client::ClientDay;
use pdd_server::domain::job::Outcome;
use pdd_server::domain::service::jobs::JobKind;
use pdd_server::domain::service::ping::PingInput;

use crate::support::*;

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

#[tokio::test]
async fn every_run_is_recorded_with_its_firing_instance_outcome_and_counts() {
    let mut w = World::new();
    w.services.jobs = w.services.jobs.clone().with_instance("host-a/42/0badcafe");
    w.campaign(campaign_input(2, 0, 0)).await;
    day_zero(&w, 3).await;
    w.set(on_day(1, "02:00") + Duration::seconds(5));
    let report = w
        .services
        .jobs
        .run(JobKind::PruneClients, on_day(1, "02:00"))
        .await
        .unwrap();
    assert_eq!(report.get("pruned"), 0);

    let runs = w
        .services
        .jobs
        .runs(JobKind::CreateSketches, 100)
        .await
        .unwrap();
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(run.job, "create-sketches");
    assert_eq!(run.firing, on_day(1, "01:00"));
    assert_eq!(run.started, on_day(1, "01:00"));
    assert_eq!(run.instance, "host-a/42/0badcafe");
    assert_eq!(run.outcome, Outcome::Ok);
    assert_eq!(run.counts.get("created"), Some(&3));
    assert_eq!(run.counts.get("groups"), Some(&1));
    assert_eq!((run.failed.clone(), run.error.clone()), (vec![], None));
    // Started by the clock, as of the firing asked.
    let prune = w
        .services
        .jobs
        .runs(JobKind::PruneClients, 100)
        .await
        .unwrap();
    assert_eq!(prune[0].firing, on_day(1, "02:00"));
    assert_eq!(prune[0].started, on_day(1, "02:00") + Duration::seconds(5));
    assert_eq!(prune[0].counts.get("pruned"), Some(&0));

    // A run stopped for shutdown is recorded as interrupted; another instance sees it all.
    w.services.jobs.stop();
    let report = w
        .services
        .jobs
        .run(JobKind::AggregateSketches, on_day(2, "00:30"))
        .await
        .unwrap();
    assert!(report.interrupted);
    let other = w.other_instance();
    let runs = other
        .jobs
        .runs(JobKind::AggregateSketches, 100)
        .await
        .unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].outcome, Outcome::Interrupted);
    assert_eq!(other.jobs.instance(), "local");
    assert_eq!(
        other.jobs.runs(JobKind::CollectGarbage, 100).await.unwrap(),
        vec![]
    );
}

#[tokio::test]
async fn the_history_lists_the_newest_runs_first_up_to_the_limit() {
    let w = World::new();
    for d in 0..5 {
        w.run(JobKind::PruneClients, on_day(d, "02:00")).await;
    }
    let runs = w
        .services
        .jobs
        .runs(JobKind::PruneClients, 3)
        .await
        .unwrap();
    assert_eq!(
        runs.iter().map(|r| r.firing).collect::<Vec<_>>(),
        vec![on_day(4, "02:00"), on_day(3, "02:00"), on_day(2, "02:00")]
    );
}

#[tokio::test]
async fn garbage_collection_counts_the_clients_of_yesterday_and_of_days_missed() {
    let w = World::new();
    // 1 May: three clients register and ping (one from a newer extension).
    let clients = w.register_many(3).await;
    w.ping_all(&clients[..2], london("2018-05-01 10:00")).await;
    w.set(london("2018-05-01 11:00"));
    w.services
        .ping
        .ping(
            &clients[2].name,
            PingInput {
                extension_version: Some("1.2.0".into()),
                ..PingInput::default()
            },
        )
        .await
        .unwrap();
    // The first run counts yesterday and every day before it whose activity is kept.
    let report = w
        .run(JobKind::CollectGarbage, london("2018-05-02 03:00"))
        .await;
    assert_eq!(report.get("clientDays"), 60);
    let day1 = ClientDay {
        date: date("2018-05-01"),
        registrations: 3,
        active: 3,
    };
    let (days, breakdown) = w
        .services
        .clients
        .days(date("2018-03-01"), date("2018-05-31"))
        .await
        .unwrap();
    assert_eq!(days.len(), 60);
    assert_eq!(days[0].date, date("2018-03-03"));
    assert_eq!(days[59], day1);
    assert!(days[..59].iter().all(|d| d.active == 0));
    let breakdown = breakdown.unwrap();
    assert_eq!(
        breakdown.extension_versions.into_iter().collect::<Vec<_>>(),
        vec![(None, 2), (Some("1.2.0".to_string()), 1)]
    );
    assert_eq!(
        breakdown.countries.into_iter().collect::<Vec<_>>(),
        vec![(None, 3)]
    );

    // 2 May: one more registers; two ping. A run as of the night after counts 2 May alone.
    let late = w.register(7).await;
    w.ping_all(
        &[clients[0].clone(), late.clone()],
        london("2018-05-02 18:00"),
    )
    .await;
    // A run as of a time still in 2 May's future counts the unfinished day...
    w.set(london("2018-05-02 19:00"));
    w.services
        .jobs
        .run(JobKind::CollectGarbage, london("2018-05-03 03:00"))
        .await
        .unwrap();
    w.ping(&clients[1], london("2018-05-02 20:00")).await;
    // ... and the scheduled run recounts it.
    let report = w
        .run(JobKind::CollectGarbage, london("2018-05-03 03:00"))
        .await;
    assert_eq!(report.get("clientDays"), 1);
    let (days, _) = w
        .services
        .clients
        .days(date("2018-05-01"), date("2018-05-31"))
        .await
        .unwrap();
    assert_eq!(
        days,
        vec![
            day1,
            ClientDay {
                date: date("2018-05-02"),
                registrations: 1,
                active: 3,
            }
        ]
    );

    // Three nights without a server: the next run counts the days missed.
    let report = w
        .run(JobKind::CollectGarbage, london("2018-05-07 03:00"))
        .await;
    assert_eq!(report.get("clientDays"), 4);
    let (days, _) = w
        .services
        .clients
        .days(date("2018-05-01"), date("2018-05-31"))
        .await
        .unwrap();
    assert_eq!(days.len(), 6);
    assert_eq!(days.last().unwrap().date, date("2018-05-06"));
}

#[tokio::test]
async fn garbage_collection_deletes_runs_after_120_days_and_counted_days_after_a_year() {
    let w = World::new();
    w.run(JobKind::PruneClients, london("2018-01-01 02:00"))
        .await;
    w.run(JobKind::CollectGarbage, london("2018-01-01 03:00"))
        .await;
    w.run(JobKind::PruneClients, london("2018-03-01 02:00"))
        .await;
    // 120 days after the first runs: kept; a day later: gone.
    let report = w
        .run(JobKind::CollectGarbage, london("2018-05-01 03:00"))
        .await;
    assert_eq!(report.get("jobRuns"), 0);
    let report = w
        .run(JobKind::CollectGarbage, london("2018-05-02 03:00"))
        .await;
    assert_eq!(report.get("jobRuns"), 2);
    let prune = w
        .services
        .jobs
        .runs(JobKind::PruneClients, 100)
        .await
        .unwrap();
    assert_eq!(prune.len(), 1);
    assert_eq!(prune[0].firing, london("2018-03-01 02:00"));

    let counted = |from: &str, to: &str| {
        let (from, to) = (date(from), date(to));
        let services = w.services.clone();
        async move { services.clients.days(from, to).await.unwrap().0.len() }
    };
    assert_eq!(counted("2017-11-02", "2017-11-02").await, 1);
    // 366 days on, the day is kept; a day later, gone.
    w.run(JobKind::CollectGarbage, london("2018-11-03 03:00"))
        .await;
    assert_eq!(counted("2017-11-02", "2017-11-02").await, 1);
    w.run(JobKind::CollectGarbage, london("2018-11-04 03:00"))
        .await;
    assert_eq!(counted("2017-01-01", "2017-11-02").await, 0);
    assert_eq!(counted("2017-11-03", "2017-11-03").await, 1);
}
