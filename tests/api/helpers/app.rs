//! The application built in code: memory storage, a manual clock, seeded randomness and a
//! metrics registry, with its API and admin filters.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;

use pdd_server::adapters::admin::{admin_routes, AdminState, ServerInfo};
use pdd_server::adapters::http::{api_routes, ApiState, Limits};
use pdd_server::adapters::metrics::registry::Registry;
use pdd_server::domain::service::{Context, Services};
use pdd_server::testing::{context, ManualClock};

use super::doubles::{MapGeocoder, SwitchableStorage};
use super::logs::init_tracing;
use super::requests::{private, request, send, Reply};
use super::{utc, TOKEN};

pub struct App {
    pub api: BoxedFilter<(Response,)>,
    pub admin: BoxedFilter<(Response,)>,
    pub clock: Arc<ManualClock>,
    pub storage: Arc<SwitchableStorage>,
    pub registry: Arc<Registry>,
    pub services: Services,
}

/// Now, when each test starts: 12:00 UTC (13:00 in London) on 10 May 2018.
pub const START: &str = "2018-05-10T12:00:00Z";

/// The application with the default limits, except rate limits: tests send many requests from
/// one address.
pub fn app() -> App {
    app_with(Limits::unlimited_rates())
}

pub fn app_with(limits: Limits) -> App {
    init_tracing();
    let clock = Arc::new(ManualClock::new(utc(START)));
    let storage = Arc::new(SwitchableStorage::default());
    let registry = Arc::new(Registry::new());
    let geocoder = MapGeocoder(HashMap::from([
        ("198.51.100.20".parse().unwrap(), "GB"),
        ("203.0.113.7".parse().unwrap(), "FR"),
    ]));
    let ctx = Context {
        geocoder: Arc::new(geocoder),
        metrics: registry.clone(),
        ..context(storage.clone(), clock.clone())
    };
    let services = Services::new(ctx);
    let api = api_routes(ApiState {
        services: services.clone(),
        access_token: TOKEN.into(),
        metrics: registry.clone(),
        trusted_proxies: vec!["10.0.0.0/8".parse().unwrap()],
        limits,
    });
    let admin = admin_routes(AdminState {
        services: services.clone(),
        storage: storage.clone(),
        clock: clock.clone(),
        registry: registry.clone(),
        info: ServerInfo {
            version: "1.2.3".into(),
            build: "abc1234".into(),
            start_time: utc(START),
            storage: "memory".into(),
            geocoder: "map".into(),
            metrics: "registry".into(),
        },
    });
    App {
        api,
        admin,
        clock,
        storage,
        registry,
        services,
    }
}

impl App {
    pub async fn call(&self, req: warp::test::RequestBuilder) -> Reply {
        send(&self.api, req).await
    }

    pub async fn admin(&self, req: warp::test::RequestBuilder) -> Reply {
        send(&self.admin, req).await
    }

    /// Registers a client through the API; returns its name.
    pub async fn register(&self, public_key: &str) -> String {
        let r = self
            .call(
                request("POST", "/api/clients")
                    .json(&serde_json::json!({"publicKey": public_key, "browser": "firefox"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        r.json()["name"].as_str().unwrap().to_string()
    }

    /// Creates a campaign through the API; returns its JSON.
    pub async fn create_campaign(&self, body: Value) -> Value {
        let r = self
            .call(private("POST", "/api/campaigns").json(&body))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        r.json()
    }
}
