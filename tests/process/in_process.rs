//! The application built in code, as other tests may: port 0, a manual clock, stopped with its
//! token instead of a signal.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use secrecy::SecretString;

use pdd_server::app::{Application, Overrides};
use pdd_server::config::Settings;
use pdd_server::testing::ManualClock;

#[tokio::test]
async fn built_in_code_it_serves_on_the_real_ports_and_stops_with_its_token() {
    let mut settings = Settings::defaults();
    settings.http_port = "127.0.0.1:0".parse().unwrap();
    settings.admin_port = "127.0.0.1:0".parse().unwrap();
    settings.api_access_token = Some(SecretString::from("in-process-token"));
    let start: DateTime<Utc> = "2018-05-12T10:00:00Z".parse().unwrap();
    let app = Application::build_with(
        settings,
        Overrides {
            clock: Some(Arc::new(ManualClock::new(start))),
            ..Overrides::default()
        },
    )
    .await
    .unwrap();
    let (http, admin) = (app.http_addr(), app.admin_addr());
    assert_ne!(http.port(), 0);
    assert_ne!(admin.port(), 0);
    let stop = app.stop_token();
    let running = tokio::spawn(app.run_until_stopped());

    let client = reqwest::Client::new();
    let health = client
        .get(format!("http://{admin}/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
    let info: serde_json::Value = client
        .get(format!("http://{admin}/admin/server_info"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["startTime"], "2018-05-12T10:00:00.000Z");
    assert_eq!(info["storage"], "memory");
    let stats = client
        .get(format!("http://{http}/api/stats"))
        .bearer_auth("in-process-token")
        .send()
        .await
        .unwrap();
    assert_eq!(stats.status().as_u16(), 200);

    stop.cancel();
    running.await.unwrap().unwrap();
    // Nothing answers any more (an HTTP request rather than a bare connect, which a child
    // process of a parallel test could briefly accept between its fork and exec).
    let after = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .build()
        .unwrap()
        .get(format!("http://{http}/api/stats"))
        .send()
        .await;
    assert!(after.is_err(), "{after:?}");
}
