//! Conformance cases of `SketchStore`: sketches, groups and the days' sums.

use std::sync::Arc;

use pdd_server::domain::crypto::ell;
use pdd_server::ports::storage::{DaySketches, SubmitOutcome};
use pdd_server::ports::{Storage, StorageError};

use pdd_server::testing::entities::*;

pub async fn create_day_sketches_stores_groups_and_sketches(s: Arc<dyn Storage>) {
    add_clients(&s, &["a", "b", "c", "d", "e"]).await;
    s.create_campaign(&campaign("c", t(0))).await.unwrap();
    let day = day_sketches(
        "c",
        4,
        &[
            &[("s1", "a"), ("s2", "c"), ("s3", "e")],
            &[("s4", "b"), ("s5", "d")],
        ],
    );
    s.create_day_sketches(&day).await.unwrap();
    for sketch in &day.sketches {
        assert_eq!(
            s.get_sketch(&sketch.name).await.unwrap().as_ref(),
            Some(sketch)
        );
    }
    assert_eq!(s.get_sketch("s6").await.unwrap(), None);
    assert_eq!(s.day_groups("c", 4).await.unwrap(), day.groups);
    assert_eq!(s.day_groups("c", 3).await.unwrap(), vec![]);
    assert_eq!(s.day_raw_sum("c", 4).await.unwrap(), None);
}

pub async fn create_day_sketches_twice_is_already_exists_and_writes_nothing(s: Arc<dyn Storage>) {
    add_clients(&s, &["a", "b", "c"]).await;
    s.create_campaign(&campaign("c", t(0))).await.unwrap();
    let first = day_sketches("c", 1, &[&[("s1", "a"), ("s2", "b")]]);
    s.create_day_sketches(&first).await.unwrap();
    let second = day_sketches("c", 1, &[&[("r1", "a"), ("r2", "b"), ("r3", "c")]]);
    assert_eq!(
        s.create_day_sketches(&second).await,
        Err(StorageError::AlreadyExists)
    );
    for name in ["r1", "r2", "r3"] {
        assert_eq!(s.get_sketch(name).await.unwrap(), None);
    }
    assert_eq!(s.day_groups("c", 1).await.unwrap(), first.groups);
    let open = s.record_ping(&activity("c", t(5))).await.unwrap().unwrap();
    assert_eq!(open, vec![]);
    // Another day of the same campaign is still free.
    let next = day_sketches("c", 2, &[&[("n1", "a"), ("n2", "c")]]);
    s.create_day_sketches(&next).await.unwrap();
    assert_eq!(s.day_groups("c", 2).await.unwrap(), next.groups);
}

pub async fn create_day_sketches_with_taken_sketch_name_writes_nothing(s: Arc<dyn Storage>) {
    add_clients(&s, &["a", "b", "c"]).await;
    s.create_campaign(&campaign("c", t(0))).await.unwrap();
    s.create_day_sketches(&day_sketches("c", 1, &[&[("s1", "a"), ("s2", "b")]]))
        .await
        .unwrap();
    // Day 2 reuses the name s2 for its last sketch: the whole day is refused.
    let clash = day_sketches(
        "c",
        2,
        &[&[("u1", "a"), ("u2", "b")], &[("u3", "c"), ("s2", "a")]],
    );
    assert_eq!(
        s.create_day_sketches(&clash).await,
        Err(StorageError::AlreadyExists)
    );
    assert_eq!(s.day_groups("c", 2).await.unwrap(), vec![]);
    for name in ["u1", "u2", "u3"] {
        assert_eq!(s.get_sketch(name).await.unwrap(), None);
    }
    assert_eq!(s.get_sketch("s2").await.unwrap().unwrap().day, 1);
}

pub async fn submit_unknown_sketch_is_not_found(s: Arc<dyn Storage>) {
    assert_eq!(
        s.submit(&submission("nope", Some(vec![big(1)]), Some(vec![1])))
            .await
            .unwrap(),
        SubmitOutcome::NotFound
    );
}

pub async fn submit_folds_encrypted_mod_ell_and_sums_raw(s: Arc<dyn Storage>) {
    add_clients(&s, &["a", "b", "c", "d", "e"]).await;
    s.create_campaign(&campaign("c", t(0))).await.unwrap();
    let day = day_sketches(
        "c",
        0,
        &[
            &[("s1", "a"), ("s2", "b"), ("s3", "c")],
            &[("s4", "d"), ("s5", "e")],
        ],
    );
    s.create_day_sketches(&day).await.unwrap();
    let l = ell();
    let accepted = [
        submission(
            "s1",
            Some(vec![l - 1u8, big(5), l - 2u8]),
            Some(vec![1, 2, 3]),
        ),
        submission("s2", Some(vec![big(2), l - 3u8, big(7)]), None),
        submission("s3", None, Some(vec![10, 20, 30])),
        submission(
            "s4",
            Some(vec![big(4), big(0), big(9)]),
            Some(vec![0, 0, 1]),
        ),
    ];
    for sub in &accepted {
        assert_eq!(s.submit(sub).await.unwrap(), SubmitOutcome::Accepted);
    }
    let groups = s.day_groups("c", 0).await.unwrap();
    assert_eq!(groups.len(), 2);
    let (g0, g1) = (&groups[0], &groups[1]);
    assert_eq!((g0.group, g0.submitted, g0.encrypted), (0, 3, 2));
    assert_eq!(g0.sum, vec![big(1), big(2), big(5)]);
    assert_eq!(g0.public_keys, vec![key("a"), key("b"), key("c")]);
    assert_eq!(g0.queries_count, 2);
    assert!(!g0.complete());
    assert_eq!((g1.group, g1.submitted, g1.encrypted), (1, 1, 1));
    assert_eq!(g1.sum, vec![big(4), big(0), big(9)]);
    assert_eq!(s.day_raw_sum("c", 0).await.unwrap(), Some(vec![11, 22, 34]));
    for name in ["s1", "s2", "s3", "s4"] {
        assert!(
            s.get_sketch(name).await.unwrap().unwrap().submitted,
            "{name}"
        );
    }
    assert!(!s.get_sketch("s5").await.unwrap().unwrap().submitted);
    let open = s.record_ping(&activity("a", t(5))).await.unwrap().unwrap();
    assert_eq!(open, vec![]);
    let open = s.record_ping(&activity("e", t(5))).await.unwrap().unwrap();
    assert_eq!(open.len(), 1);

    // A submission with neither vector still counts as submitted.
    assert_eq!(
        s.submit(&submission("s5", None, None)).await.unwrap(),
        SubmitOutcome::Accepted
    );
    let g1 = &s.day_groups("c", 0).await.unwrap()[1];
    assert_eq!((g1.submitted, g1.encrypted), (2, 1));
    assert_eq!(g1.sum, vec![big(4), big(0), big(9)]);
}

pub async fn submit_twice_is_already_submitted_and_changes_nothing(s: Arc<dyn Storage>) {
    add_clients(&s, &["a", "b"]).await;
    s.create_campaign(&campaign("c", t(0))).await.unwrap();
    s.create_day_sketches(&day_sketches("c", 0, &[&[("s1", "a"), ("s2", "b")]]))
        .await
        .unwrap();
    let first = submission(
        "s1",
        Some(vec![big(3), big(2), big(1)]),
        Some(vec![3, 2, 1]),
    );
    assert_eq!(s.submit(&first).await.unwrap(), SubmitOutcome::Accepted);
    let before = s.day_groups("c", 0).await.unwrap();
    let again = submission(
        "s1",
        Some(vec![big(9), big(9), big(9)]),
        Some(vec![9, 9, 9]),
    );
    assert_eq!(
        s.submit(&again).await.unwrap(),
        SubmitOutcome::AlreadySubmitted
    );
    assert_eq!(s.day_groups("c", 0).await.unwrap(), before);
    assert_eq!(before[0].sum, vec![big(3), big(2), big(1)]);
    assert_eq!((before[0].submitted, before[0].encrypted), (1, 1));
    assert_eq!(s.day_raw_sum("c", 0).await.unwrap(), Some(vec![3, 2, 1]));
}

pub async fn submit_refuses_a_raw_sum_beyond_64_bits_and_changes_nothing(s: Arc<dyn Storage>) {
    add_clients(&s, &["a", "b", "d"]).await;
    s.create_campaign(&campaign("c", t(0))).await.unwrap();
    s.create_day_sketches(&day_sketches(
        "c",
        0,
        &[&[("s1", "a"), ("s2", "b"), ("s3", "d")]],
    ))
    .await
    .unwrap();
    let first = submission(
        "s1",
        Some(vec![big(1), big(2)]),
        Some(vec![i64::MAX - 1, 5]),
    );
    assert_eq!(s.submit(&first).await.unwrap(), SubmitOutcome::Accepted);
    let before = s.day_groups("c", 0).await.unwrap();
    // MAX − 1 + 2 does not fit: refused as a whole, the sketch stays open.
    let over = submission("s2", Some(vec![big(4), big(4)]), Some(vec![2, 0]));
    assert!(
        matches!(s.submit(&over).await, Err(StorageError::Failure(_))),
        "a raw sum beyond i64 is a failure"
    );
    assert_eq!(s.day_groups("c", 0).await.unwrap(), before);
    assert_eq!(
        s.day_raw_sum("c", 0).await.unwrap(),
        Some(vec![i64::MAX - 1, 5])
    );
    assert!(!s.get_sketch("s2").await.unwrap().unwrap().submitted);
    // Exactly i64::MAX fits; the open sketch then submits normally.
    let exact = submission("s2", Some(vec![big(4), big(4)]), Some(vec![1, 0]));
    assert_eq!(s.submit(&exact).await.unwrap(), SubmitOutcome::Accepted);
    assert_eq!(
        s.day_raw_sum("c", 0).await.unwrap(),
        Some(vec![i64::MAX, 5])
    );
    let group = &s.day_groups("c", 0).await.unwrap()[0];
    assert_eq!((group.submitted, group.encrypted), (2, 2));
    assert_eq!(group.sum, vec![big(5), big(6)]);
}

pub async fn concurrent_submissions_to_one_group_are_each_counted_once(s: Arc<dyn Storage>) {
    const MEMBERS: usize = 32;
    let members: Vec<(String, String)> = (0..MEMBERS)
        .map(|i| (format!("s{i:02}"), format!("c{i:02}")))
        .collect();
    for (i, (_, c)) in members.iter().enumerate() {
        s.create_client(&client(c, t(i as i64))).await.unwrap();
    }
    s.create_campaign(&campaign("c", t(0))).await.unwrap();
    let refs: Vec<(&str, &str)> = members
        .iter()
        .map(|(sk, c)| (sk.as_str(), c.as_str()))
        .collect();
    s.create_day_sketches(&day_sketches("c", 0, &[&refs]))
        .await
        .unwrap();

    // Every member submits twice at once; values near ℓ make every fold wrap around.
    let l = ell();
    let mut tasks = Vec::new();
    for round in 0..2 {
        for (i, (sketch, _)) in members.iter().enumerate() {
            let s = s.clone();
            let sub = submission(
                sketch,
                Some(vec![big(1), l - 1u8, big(i as u64)]),
                Some(vec![1, 0, 1 + round]),
            );
            tasks.push(tokio::spawn(async move { s.submit(&sub).await.unwrap() }));
        }
    }
    let mut accepted = 0;
    let mut already = 0;
    for task in tasks {
        match task.await.unwrap() {
            SubmitOutcome::Accepted => accepted += 1,
            SubmitOutcome::AlreadySubmitted => already += 1,
            SubmitOutcome::NotFound => panic!("sketch not found"),
        }
    }
    assert_eq!((accepted, already), (MEMBERS, MEMBERS));
    let group = &s.day_groups("c", 0).await.unwrap()[0];
    assert_eq!(
        (group.submitted, group.encrypted),
        (MEMBERS as u32, MEMBERS as u32)
    );
    let n = MEMBERS as u64;
    assert_eq!(
        group.sum,
        vec![big(n), l - n, big(n * (n - 1) / 2)],
        "each member folded exactly once"
    );
    let raw = s.day_raw_sum("c", 0).await.unwrap().unwrap();
    assert_eq!(raw[..2], [MEMBERS as i64, 0]);
    // Whichever round won for each member, the third count is between 1 and 2 per member.
    assert!((MEMBERS as i64..=2 * MEMBERS as i64).contains(&raw[2]));
    for (sketch, _) in &members {
        assert!(s.get_sketch(sketch).await.unwrap().unwrap().submitted);
    }
}

pub async fn concurrent_creations_of_one_day_store_exactly_one(s: Arc<dyn Storage>) {
    add_clients(&s, &["a", "b", "c", "d"]).await;
    s.create_campaign(&campaign("c", t(0))).await.unwrap();
    // Several instances create the same campaign-day at once, each with its own names.
    let attempts: Vec<DaySketches> = (0..4)
        .map(|i| {
            let n = |k: &str| format!("{k}{i}");
            let names = [n("w"), n("x"), n("y"), n("z")];
            day_sketches(
                "c",
                1,
                &[
                    &[(names[0].as_str(), "a"), (names[1].as_str(), "b")],
                    &[(names[2].as_str(), "c"), (names[3].as_str(), "d")],
                ],
            )
        })
        .collect();
    let tasks: Vec<_> = attempts
        .iter()
        .cloned()
        .map(|day| {
            let s = s.clone();
            tokio::spawn(async move { s.create_day_sketches(&day).await })
        })
        .collect();
    let mut winners = Vec::new();
    for (i, task) in tasks.into_iter().enumerate() {
        match task.await.unwrap() {
            Ok(()) => winners.push(i),
            Err(e) => assert_eq!(e, StorageError::AlreadyExists),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one creation wins");
    let winner = &attempts[winners[0]];
    assert_eq!(s.day_groups("c", 1).await.unwrap(), winner.groups);
    for (i, attempt) in attempts.iter().enumerate() {
        for sketch in &attempt.sketches {
            let stored = s.get_sketch(&sketch.name).await.unwrap();
            assert_eq!(stored.is_some(), i == winners[0], "{}", sketch.name);
        }
    }
    let open = s.record_ping(&activity("a", t(5))).await.unwrap().unwrap();
    assert_eq!(open.len(), 1);
}

pub async fn day_groups_and_raw_sum_of_unknown_day_are_empty(s: Arc<dyn Storage>) {
    assert_eq!(s.day_groups("nope", 0).await.unwrap(), vec![]);
    assert_eq!(s.day_raw_sum("nope", 0).await.unwrap(), None);
    add_clients(&s, &["a", "b"]).await;
    s.create_campaign(&campaign("c", t(0))).await.unwrap();
    s.create_day_sketches(&day_sketches("c", 2, &[&[("s1", "a"), ("s2", "b")]]))
        .await
        .unwrap();
    s.submit(&submission("s1", None, Some(vec![1, 1, 1])))
        .await
        .unwrap();
    assert_eq!(s.day_groups("c", 1).await.unwrap(), vec![]);
    assert_eq!(s.day_groups("c", 3).await.unwrap(), vec![]);
    assert_eq!(s.day_raw_sum("c", 1).await.unwrap(), None);
    assert_eq!(s.day_raw_sum("c", 2).await.unwrap(), Some(vec![1, 1, 1]));
    // Names that share a prefix are different campaigns.
    assert_eq!(s.day_groups("c-", 2).await.unwrap(), vec![]);
    assert_eq!(s.day_raw_sum("", 2).await.unwrap(), None);
}

pub async fn delete_sketches_before_removes_earlier_days_of_one_campaign(s: Arc<dyn Storage>) {
    add_clients(&s, &["a", "b", "c"]).await;
    for c in ["c", "cc"] {
        s.create_campaign(&campaign(c, t(0))).await.unwrap();
    }
    s.create_day_sketches(&day_sketches(
        "c",
        1,
        &[&[("c1a", "a"), ("c1b", "b"), ("c1c", "c")]],
    ))
    .await
    .unwrap();
    s.create_day_sketches(&day_sketches("c", 2, &[&[("c2a", "a"), ("c2b", "b")]]))
        .await
        .unwrap();
    s.create_day_sketches(&day_sketches("c", 3, &[&[("c3a", "a"), ("c3b", "b")]]))
        .await
        .unwrap();
    s.create_day_sketches(&day_sketches("cc", 1, &[&[("x1a", "a"), ("x1b", "b")]]))
        .await
        .unwrap();
    for sk in ["c1a", "c2a", "c3a", "x1a"] {
        s.submit(&submission(sk, Some(vec![big(1); 3]), Some(vec![1, 1, 1])))
            .await
            .unwrap();
    }

    assert_eq!(s.delete_sketches_before("c", 3).await.unwrap(), 5);

    for gone in ["c1a", "c1b", "c1c", "c2a", "c2b"] {
        assert_eq!(s.get_sketch(gone).await.unwrap(), None, "{gone}");
    }
    for day in [1, 2] {
        assert_eq!(s.day_groups("c", day).await.unwrap(), vec![]);
        assert_eq!(s.day_raw_sum("c", day).await.unwrap(), None);
    }
    for kept in ["c3a", "c3b", "x1a", "x1b"] {
        assert!(s.get_sketch(kept).await.unwrap().is_some(), "{kept}");
    }
    assert_eq!(s.day_groups("c", 3).await.unwrap().len(), 1);
    assert_eq!(s.day_raw_sum("c", 3).await.unwrap(), Some(vec![1, 1, 1]));
    assert_eq!(s.day_groups("cc", 1).await.unwrap().len(), 1);
    assert_eq!(s.day_raw_sum("cc", 1).await.unwrap(), Some(vec![1, 1, 1]));
    let open = s.record_ping(&activity("b", t(5))).await.unwrap().unwrap();
    assert_eq!(
        open.iter()
            .map(|o| o.sketch.name.as_str())
            .collect::<Vec<_>>(),
        vec!["c3b", "x1b"]
    );
    assert_eq!(s.delete_sketches_before("c", 3).await.unwrap(), 0);
}

pub async fn delete_orphan_sketches_removes_sketches_of_deleted_clients(s: Arc<dyn Storage>) {
    add_clients(&s, &["a", "b", "c"]).await;
    s.create_campaign(&campaign("c", t(0))).await.unwrap();
    let day = day_sketches("c", 1, &[&[("s1", "a"), ("s2", "b"), ("s3", "c")]]);
    s.create_day_sketches(&day).await.unwrap();
    s.create_day_sketches(&day_sketches("c", 2, &[&[("t1", "a"), ("t2", "b")]]))
        .await
        .unwrap();
    s.submit(&submission(
        "s1",
        Some(vec![big(2); 3]),
        Some(vec![2, 2, 2]),
    ))
    .await
    .unwrap();
    assert_eq!(s.delete_orphan_sketches().await.unwrap(), 0);

    s.delete_client("a").await.unwrap();
    assert_eq!(s.delete_orphan_sketches().await.unwrap(), 2);

    for gone in ["s1", "t1"] {
        assert_eq!(s.get_sketch(gone).await.unwrap(), None);
    }
    for kept in ["s2", "s3", "t2"] {
        assert!(s.get_sketch(kept).await.unwrap().is_some());
    }
    // The group of a live campaign keeps its keys and its running sums.
    let groups = s.day_groups("c", 1).await.unwrap();
    assert_eq!(groups[0].public_keys, day.groups[0].public_keys);
    assert_eq!((groups[0].submitted, groups[0].encrypted), (1, 1));
    assert_eq!(groups[0].sum, vec![big(2); 3]);
    assert_eq!(s.day_raw_sum("c", 1).await.unwrap(), Some(vec![2, 2, 2]));
    assert_eq!(s.delete_orphan_sketches().await.unwrap(), 0);
}

pub async fn delete_orphan_sketches_removes_everything_of_missing_campaigns(s: Arc<dyn Storage>) {
    add_clients(&s, &["a", "b"]).await;
    s.create_campaign(&campaign("kept", t(0))).await.unwrap();
    s.create_campaign(&campaign("deleted", t(0))).await.unwrap();
    s.create_day_sketches(&day_sketches("kept", 1, &[&[("k1", "a"), ("k2", "b")]]))
        .await
        .unwrap();
    s.create_day_sketches(&day_sketches("deleted", 1, &[&[("d1", "a"), ("d2", "b")]]))
        .await
        .unwrap();
    // Left behind by an older server that deleted campaigns without their sketches.
    s.create_day_sketches(&day_sketches("never", 1, &[&[("n1", "a"), ("n2", "b")]]))
        .await
        .unwrap();
    s.submit(&submission(
        "n1",
        Some(vec![big(1); 3]),
        Some(vec![1, 1, 1]),
    ))
    .await
    .unwrap();
    s.delete_campaign("deleted").await.unwrap();
    assert_eq!(s.get_sketch("d1").await.unwrap(), None);

    assert_eq!(s.delete_orphan_sketches().await.unwrap(), 2);

    for gone in ["n1", "n2", "d1", "d2"] {
        assert_eq!(s.get_sketch(gone).await.unwrap(), None);
    }
    assert_eq!(s.day_groups("never", 1).await.unwrap(), vec![]);
    assert_eq!(s.day_raw_sum("never", 1).await.unwrap(), None);
    assert_eq!(s.day_groups("deleted", 1).await.unwrap(), vec![]);
    assert!(s.get_sketch("k1").await.unwrap().is_some());
    assert_eq!(s.day_groups("kept", 1).await.unwrap().len(), 1);
    assert_eq!(s.delete_orphan_sketches().await.unwrap(), 0);
}
