//! Campaign management: the update rules once started and completed, and deletion.

use pdd_server::domain::campaign::{CampaignInput, Status};
use pdd_server::domain::service::jobs::JobKind;
use pdd_server::domain::service::ServiceError;

use crate::support::*;

const FROZEN: &str = "cannot be changed once the campaign has started";

#[tokio::test]
async fn campaign_update_rules_before_start_after_start_and_after_completion() {
    let w = World::new();
    let original = campaign_input(2, 1, 1);
    let campaign = w.campaign(original.clone()).await;

    // Not started: anything may change but the existing queries.
    w.set(london("2018-05-05 12:00"));
    let moved = CampaignInput {
        start_time: Some(london("2018-05-11 09:00")),
        group_size: Some(5),
        delay: Some(2),
        ..original.clone()
    };
    let updated = w
        .services
        .campaigns
        .update(&campaign.name, moved.clone())
        .await
        .unwrap()
        .campaign;
    assert_eq!(
        (updated.start_time, updated.group_size, updated.delay),
        (Some(london("2018-05-11 09:00")), 5, 2)
    );
    assert_eq!(
        (&updated.name, updated.create_time),
        (&campaign.name, campaign.create_time)
    );
    let shrunk = CampaignInput {
        vocabulary: Some(vec![exact("flu")]),
        ..moved.clone()
    };
    assert_eq!(
        invalid(w.services.campaigns.update(&campaign.name, shrunk).await),
        vec!["vocabulary.queries: existing queries cannot be removed or changed"]
    );

    // Started: the frozen fields are all reported at once.
    w.set(london("2018-05-12 12:00"));
    let everything = CampaignInput {
        start_time: Some(london("2018-05-11 10:00")),
        delay: Some(3),
        grace_delay: Some(0),
        group_size: Some(6),
        sampling_rate: Some(0.5),
        collect_encrypted: Some(false),
        collect_raw: Some(true),
        // More than 10 minutes in the past (10 or fewer would be taken as now).
        end_time: Some(london("2018-05-12 11:49")),
        vocabulary: Some(vec![exact("flu"), exact("fever")]),
        ..moved.clone()
    };
    assert_eq!(
        invalid(
            w.services
                .campaigns
                .update(&campaign.name, everything)
                .await
        ),
        vec![
            format!("startTime: {FROZEN}"),
            format!("delay: {FROZEN}"),
            format!("graceDelay: {FROZEN}"),
            format!("groupSize: {FROZEN}"),
            format!("samplingRate: {FROZEN}"),
            format!("collectEncrypted: {FROZEN}"),
            format!("collectRaw: {FROZEN}"),
            "endTime: cannot be set in the past".to_string(),
            "vocabulary.queries: existing queries cannot be removed or changed".to_string(),
        ]
    );
    let mut grown = CampaignInput {
        display_name: Some("Flu 2018".into()),
        end_time: Some(london("2018-05-20 00:00")),
        ..moved.clone()
    };
    grown.vocabulary.as_mut().unwrap().push(exact("cough"));
    let updated = w
        .services
        .campaigns
        .update(&campaign.name, grown.clone())
        .await
        .unwrap()
        .campaign;
    assert_eq!(updated.display_name, "Flu 2018");
    assert_eq!(updated.vocabulary.queries.len(), 3);
    assert_eq!(updated.end_time, Some(london("2018-05-20 00:00")));
    assert_eq!(
        w.services
            .campaigns
            .get(&campaign.name)
            .await
            .unwrap()
            .campaign,
        updated
    );

    // Completed: the end stays where it is; other editable fields may still change.
    w.set(london("2018-05-21 12:00"));
    let extended = CampaignInput {
        end_time: Some(london("2018-05-25 00:00")),
        ..grown.clone()
    };
    assert_eq!(
        invalid(w.services.campaigns.update(&campaign.name, extended).await),
        vec!["endTime: cannot be changed once the campaign has completed"]
    );
    let noted = CampaignInput {
        notes: Some("finished".into()),
        ..grown
    };
    let updated = w
        .services
        .campaigns
        .update(&campaign.name, noted)
        .await
        .unwrap()
        .campaign;
    assert_eq!(updated.notes.as_deref(), Some("finished"));

    let unknown = w.services.campaigns.update("nope", original).await;
    assert!(
        matches!(unknown, Err(ServiceError::NotFound)),
        "{unknown:?}"
    );
}

#[tokio::test]
async fn deleting_an_active_campaign_needs_force_and_removes_results_and_sketches() {
    let w = World::new();
    let active = w.campaign(campaign_input(2, 0, 0)).await;
    let future = w
        .campaign(CampaignInput {
            start_time: Some(london("2018-07-01 00:00")),
            ..campaign_input(2, 0, 0)
        })
        .await;
    let done = w
        .campaign(CampaignInput {
            end_time: Some(on_day(1, "00:00")),
            ..campaign_input(2, 0, 0)
        })
        .await;
    let clients = day_zero(&w, 2).await;
    let commands = w.commands(&clients[0], &active, on_day(1, "10:00")).await;
    w.run(JobKind::AggregateSketches, on_day(2, "00:30")).await;
    assert!(w.services.campaigns.result(&active.name, 0).await.is_ok());

    w.set(on_day(2, "09:00"));
    let refused = w.services.campaigns.delete(&active.name, false).await;
    assert!(
        matches!(refused, Err(ServiceError::Conflict(_))),
        "{refused:?}"
    );
    assert!(w.services.campaigns.get(&active.name).await.is_ok());

    w.services
        .campaigns
        .delete(&active.name, true)
        .await
        .unwrap();
    assert!(matches!(
        w.services.campaigns.get(&active.name).await,
        Err(ServiceError::NotFound)
    ));
    assert!(matches!(
        w.services.campaigns.results(&active.name).await,
        Err(ServiceError::NotFound)
    ));
    assert_eq!(
        w.storage.list_aggregations(&active.name).await.unwrap(),
        vec![]
    );
    assert_eq!(
        w.storage
            .get_sketch(&commands[0].sketch_name)
            .await
            .unwrap(),
        None
    );
    assert_eq!(w.storage.day_groups(&active.name, 0).await.unwrap(), vec![]);

    // Neither a campaign not started yet nor a completed one needs force.
    w.services
        .campaigns
        .delete(&future.name, false)
        .await
        .unwrap();
    w.services
        .campaigns
        .delete(&done.name, false)
        .await
        .unwrap();
    assert_eq!(w.services.campaigns.list(None).await.unwrap(), vec![]);
    let unknown = w.services.campaigns.delete(&done.name, true).await;
    assert!(
        matches!(unknown, Err(ServiceError::NotFound)),
        "{unknown:?}"
    );
}

#[tokio::test]
async fn campaigns_come_out_with_their_status_at_the_services_now() {
    let w = World::new();
    let input = CampaignInput {
        end_time: Some(on_day(2, "00:00")),
        ..campaign_input(2, 0, 0)
    };
    let status = |started, completed, active| Status {
        started,
        completed,
        active,
    };
    let created = w.services.campaigns.create(input).await.unwrap();
    assert_eq!(created.status, status(false, false, false));

    w.set(on_day(1, "12:00"));
    let running = w
        .services
        .campaigns
        .get(&created.campaign.name)
        .await
        .unwrap();
    assert_eq!(running.status, status(true, false, true));
    assert_eq!(running.campaign, created.campaign);
    assert_eq!(
        w.services.campaigns.list(Some(true)).await.unwrap(),
        vec![running]
    );

    w.set(on_day(2, "00:00"));
    let listed = w.services.campaigns.list(None).await.unwrap();
    assert_eq!(listed[0].status, status(true, true, false));
    assert_eq!(w.services.campaigns.list(Some(true)).await.unwrap(), vec![]);
}
