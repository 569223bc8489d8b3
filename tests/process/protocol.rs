//! The whole protocol against the real binary: a dashboard creates a campaign, browser clients
//! with real x25519 key pairs register, ping, blind their counts with pairwise shared secrets
//! and submit; the admin interface fires the nightly jobs; the result is the exact total of the
//! complete groups. The run logs at the most verbose level, and nothing private may show in
//! what the server printed.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{Days, Utc};
use chrono_tz::Tz;
use num_bigint::{BigInt, BigUint, Sign};
use rand::Rng;
use reqwest::blocking::Client;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use x25519_dalek::{PublicKey, StaticSecret};

use pdd_server::testing::{away_from_midnight, london_at as local};

use crate::server::Server;

const TOKEN: &str = "process-test-token-7f3a9c";
const PASSWORD: &str = "process-test-password-4e1d";
const ZONE: Tz = chrono_tz::Europe::London;

/// ℓ, the order of the ed25519 group the clients blind in: 2^252 + 27742317777372353535851937790883648493.
fn ell() -> BigUint {
    (BigUint::from(1u8) << 252u32)
        + "27742317777372353535851937790883648493"
            .parse::<BigUint>()
            .unwrap()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One browser extension: a key pair and its secret counts.
struct Browser {
    secret: StaticSecret,
    public_hex: String,
    name: String,
}

impl Browser {
    fn new() -> Browser {
        let secret = StaticSecret::from(rand::thread_rng().gen::<[u8; 32]>());
        let public_hex = hex(PublicKey::from(&secret).as_bytes());
        Browser {
            secret,
            public_hex,
            name: String::new(),
        }
    }

    /// Blinds `counts` for the member at `me` of a group whose keys are `keys`: for each other
    /// member j and element k, ±SHA-256(shared secret ‖ k) mod ℓ, + when me < j and − when
    /// me > j, so that the blinds of a whole group sum to 0 mod ℓ. Values are written as signed
    /// decimals in (−ℓ/2, ℓ/2], as the extension does.
    fn blind(&self, keys: &[String], me: usize, counts: &[i64]) -> Vec<String> {
        let ell = BigInt::from(ell());
        counts
            .iter()
            .enumerate()
            .map(|(k, &count)| {
                let mut v = BigInt::from(count);
                for (j, key) in keys.iter().enumerate() {
                    if j == me {
                        continue;
                    }
                    let bytes: Vec<u8> = (0..key.len())
                        .step_by(2)
                        .map(|i| u8::from_str_radix(&key[i..i + 2], 16).unwrap())
                        .collect();
                    let theirs = PublicKey::from(<[u8; 32]>::try_from(bytes).unwrap());
                    let shared = self.secret.diffie_hellman(&theirs);
                    let mut h = Sha256::new();
                    h.update(shared.as_bytes());
                    h.update((k as u32).to_be_bytes());
                    let blind = BigInt::from_bytes_be(Sign::Plus, &h.finalize()) % &ell;
                    if me < j {
                        v += blind;
                    } else {
                        v -= blind;
                    }
                }
                let mut r = ((v % &ell) + &ell) % &ell;
                if r > &ell / 2 {
                    r -= &ell;
                }
                r.to_string()
            })
            .collect()
    }
}

fn send(req: reqwest::blocking::RequestBuilder, expect: u16) -> Value {
    let res = req.send().expect("the server answers");
    let status = res.status().as_u16();
    let text = res.text().unwrap();
    assert_eq!(status, expect, "body: {text}");
    if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    }
}

#[test]
fn full_protocol_gives_the_true_totals_of_complete_groups_and_the_right_stats() {
    // Days with the real clock. The campaign starts yesterday, so now is in its day 1.
    // Clients register and ping now (activity in day 1). create-sketches fired as of tomorrow
    // 01:00 creates the sketches of "yesterday" relative to that time: day 1, i.e. now. A
    // sketch of day d stays open while relative_day(start, now) < d + 2 + delay + graceDelay
    // (here 1 < 3), so the clients can submit now. aggregate-sketches fired as of the day after
    // tomorrow 00:30 aggregates day relative_day − 2 − delay = 3 − 2 = 1. No testing mode and
    // no waiting: every time is chosen so the windows are right by construction.
    away_from_midnight();
    let mut server = Server::start(
        &[
            &format!("-api.access_token={TOKEN}"),
            "-timezone=Europe/London",
            "-log_level=ALL",
        ],
        &[("PDD_MYSQL_PASSWORD", PASSWORD)],
    );
    // Everything private that goes over the wire, to look for in the logs afterwards.
    let mut private: Vec<String> = vec![TOKEN.into(), PASSWORD.into()];
    let http = Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let today = Utc::now().with_timezone(&ZONE).date_naive();
    let yesterday = today - Days::new(1);

    // The dashboard creates a campaign that started yesterday.
    let campaign = send(
        http.post(server.url("/api/campaigns"))
            .bearer_auth(TOKEN)
            .json(&json!({
                "displayName": "Flu watch",
                "vocabulary": {"queries": [{"exact": "flu"}, {"terms": ["fever", "cough"]}, {"exact": "cold"}]},
                "startTime": local(yesterday, 12, 0).to_rfc3339(),
                "groupSize": 3,
                "collectEncrypted": true,
                "collectRaw": false,
            })),
        201,
    );
    let campaign_name = campaign["name"].as_str().unwrap().to_string();
    assert_eq!(campaign["active"], json!(true));

    // Ten clients register with their public keys and ping.
    let mut browsers: Vec<Browser> = (0..10).map(|_| Browser::new()).collect();
    for b in &mut browsers {
        let client = send(
            http.post(server.url("/api/clients"))
                .json(&json!({"publicKey": b.public_hex, "browser": "chrome-body-7d2a", "privateKey": "never-stored-91c4"})),
            201,
        );
        b.name = client["name"].as_str().unwrap().to_string();
        private.extend([b.public_hex.clone(), b.name.clone()]);
        let pong = send(
            http.post(server.url(&format!("/api/clients/{}/ping", b.name)))
                .json(&json!({"extensionVersion": "1.2.0-body-5b8e", "timezone": "Europe/London"})),
            200,
        );
        assert_eq!(pong["submit"], json!([]));
    }

    // The nightly sketch creation, as of tomorrow 01:00.
    let at = local(today + Days::new(1), 1, 0).timestamp_millis();
    let created = send(
        http.post(server.admin_url(&format!("/admin/jobs/create-sketches?at={at}"))),
        200,
    );
    assert_eq!(created["created"], json!(10), "{created}");
    assert_eq!(
        created["groups"],
        json!(4),
        "10 clients in groups of 3: sizes 3, 3, 2, 2"
    );

    // Each client pings, finds its command, blinds its counts and submits; one member of one
    // group stays silent.
    let mut rng = rand::thread_rng();
    let mut sums: BTreeMap<Vec<String>, (usize, bool, Vec<i64>)> = BTreeMap::new();
    let mut silent_done = false;
    for b in &browsers {
        let pong = send(
            http.get(server.url(&format!("/api/clients/{}/ping", b.name))),
            200,
        );
        let commands = pong["submit"].as_array().unwrap();
        assert_eq!(commands.len(), 1, "{pong}");
        let cmd = &commands[0];
        assert_eq!(cmd["round"], json!(1));
        assert_eq!(cmd["collectEncrypted"], json!(true));
        assert_eq!(cmd["collectRaw"], json!(false));
        assert_eq!(
            cmd["startTime"].as_str().unwrap(),
            local(today, 0, 0)
                .format("%Y-%m-%dT%H:%M:%S%.3fZ")
                .to_string()
        );
        assert_eq!(cmd["vocabulary"]["queries"].as_array().unwrap().len(), 3);
        let keys: Vec<String> = cmd["publicKeys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap().to_string())
            .collect();
        let me = keys.iter().position(|k| *k == b.public_hex).unwrap();
        let entry = sums.entry(keys.clone()).or_insert((0, true, vec![0; 4]));
        entry.0 += 1;
        if !silent_done && keys.len() == 3 {
            silent_done = true;
            entry.1 = false;
            continue;
        }
        let per_query: Vec<i64> = (0..3).map(|_| rng.gen_range(0..20)).collect();
        let total = per_query.iter().sum::<i64>() + rng.gen_range(0..50);
        let counts: Vec<i64> = std::iter::once(total).chain(per_query).collect();
        for (s, c) in entry.2.iter_mut().zip(&counts) {
            *s += c;
        }
        let sketch = cmd["sketchName"].as_str().unwrap();
        let blinded = b.blind(&keys, me, &counts);
        private.push(sketch.to_string());
        private.push(format!("{counts:?}"));
        private.push(serde_json::to_string(&counts).unwrap());
        // Whole values, and their first 20 digits (a value cut or reformatted in a log line).
        for v in &blinded {
            private.push(v.clone());
            private.push(v.trim_start_matches('-').chars().take(20).collect());
        }
        send(
            http.patch(server.url(&format!("/api/sketches/{sketch}")))
                .json(&json!({"encryptedValues": blinded, "rawValues": counts})),
            204,
        );
    }
    assert!(silent_done);
    assert_eq!(sums.len(), 4);
    assert!(sums.iter().all(|(keys, (n, _, _))| keys.len() == *n));

    // The nightly aggregation, two days later.
    let at = local(today + Days::new(2), 0, 30).timestamp_millis();
    let aggregated = send(
        http.post(server.admin_url(&format!("/admin/jobs/aggregate-sketches?at={at}"))),
        200,
    );
    assert_eq!(aggregated["aggregated"], json!(1), "{aggregated}");

    let result = send(
        http.get(server.url(&format!("/api/campaigns/{campaign_name}/results/1")))
            .bearer_auth(TOKEN),
        200,
    );
    let complete: Vec<&(usize, bool, Vec<i64>)> = sums.values().filter(|g| g.1).collect();
    let mut expected = vec![0i64; 4];
    for g in &complete {
        for (e, v) in expected.iter_mut().zip(&g.2) {
            *e += v;
        }
    }
    let decrypted_count: usize = complete.iter().map(|g| g.0).sum();
    assert_eq!(
        decrypted_count, 7,
        "the silent member's group of 3 is not decryptable"
    );
    assert_eq!(result["name"], json!(format!("{campaign_name}-1")));
    assert_eq!(result["day"], json!(1));
    assert_eq!(
        result["stats"],
        json!({"activeCount": 10, "submittedCount": 9, "decryptedCount": 7, "rejectedCount": 0})
    );
    assert_eq!(result["decryptedValues"], json!(expected));
    assert_eq!(
        result["rawValues"],
        json!([]),
        "raw counts are dropped unless collected"
    );

    // The logs: one line per request and per job, at the most verbose level, and nothing that
    // was private on the wire.
    assert!(server.terminate().success());
    let output = server.output();
    assert!(
        output.contains("route=\"/api/sketches/{name}\""),
        "{output}"
    );
    assert!(
        output.contains(" TRACE ") || output.contains(" DEBUG "),
        "{output}"
    );
    private.push(format!("{expected:?}"));
    private.push(serde_json::to_string(&expected).unwrap());
    for body_part in [
        "never-stored-91c4",
        "privateKey",
        "chrome-body-7d2a",
        "1.2.0-body-5b8e",
        "encryptedValues",
        "rawValues",
        "publicKey",
        "publicKeys",
    ] {
        private.push(body_part.to_string());
    }
    for secret in &private {
        assert!(
            !output.contains(secret.as_str()),
            "{secret:?} appears in the logs:\n{output}"
        );
    }
}
