//! The application's HTTP filters built in code over memory storage, a manual clock and seeded
//! randomness, and small helpers to call them through `warp::test` (no socket).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use warp::filters::BoxedFilter;
use warp::http::{HeaderMap, StatusCode};
use warp::reply::Response;

use pdd_server::adapters::admin::{admin_routes, AdminState, ServerInfo};
use pdd_server::adapters::http::{api_routes, ApiState, Limits};
use pdd_server::adapters::metrics::registry::Registry;
use pdd_server::adapters::storage::memory::MemoryStorage;
use pdd_server::domain::campaign::Campaign;
use pdd_server::domain::client::{Activity, Client, ClientDetails};
use pdd_server::domain::grouping::GroupStrategy;
use pdd_server::domain::service::{Context, Services};
use pdd_server::domain::sketch::{Aggregation, Group, Sketch, Submission};
use pdd_server::domain::time::{Calendar, Day};
use pdd_server::ports::storage::{ClientCursor, DaySketches, SubmitOutcome};
use pdd_server::ports::{
    AggregationStore, CampaignStore, ClientStore, Geocoder, JobLedger, SketchStore, Storage,
    StorageError, StorageResult,
};
use pdd_server::testing::ManualClock;
use pdd_server::testing::SeededRandom;

pub const TOKEN: &str = "test-access-token-0123456789";

pub fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// Knows one country per address.
pub struct MapGeocoder(pub HashMap<IpAddr, &'static str>);

impl Geocoder for MapGeocoder {
    fn kind(&self) -> &'static str {
        "map"
    }

    fn country(&self, ip: IpAddr) -> Option<String> {
        self.0.get(&ip).map(|c| c.to_string())
    }
}

/// Memory storage that can be switched off (every call answers `Unavailable`, as a database
/// that went away) or broken (every call answers `Failure`, as a backend fault).
#[derive(Default)]
pub struct SwitchableStorage {
    pub inner: MemoryStorage,
    down: AtomicBool,
    broken: AtomicBool,
}

impl SwitchableStorage {
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    pub fn set_broken(&self, broken: bool) {
        self.broken.store(broken, Ordering::SeqCst);
    }

    fn up(&self) -> StorageResult<()> {
        if self.down.load(Ordering::SeqCst) {
            Err(StorageError::Unavailable(
                "connection refused (127.0.0.1:3306)".into(),
            ))
        } else if self.broken.load(Ordering::SeqCst) {
            Err(StorageError::Failure("deadlock found (errno 1213)".into()))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl Storage for SwitchableStorage {
    fn kind(&self) -> &'static str {
        "switchable-memory"
    }
    async fn health(&self) -> StorageResult<()> {
        self.up()?;
        self.inner.health().await
    }
}

#[async_trait]
impl CampaignStore for SwitchableStorage {
    async fn create_campaign(&self, c: &Campaign) -> StorageResult<()> {
        self.up()?;
        self.inner.create_campaign(c).await
    }
    async fn get_campaign(&self, name: &str) -> StorageResult<Option<Campaign>> {
        self.up()?;
        self.inner.get_campaign(name).await
    }
    async fn list_campaigns(&self) -> StorageResult<Vec<Campaign>> {
        self.up()?;
        self.inner.list_campaigns().await
    }
    async fn replace_campaign(&self, c: &Campaign) -> StorageResult<()> {
        self.up()?;
        self.inner.replace_campaign(c).await
    }
    async fn delete_campaign(&self, name: &str) -> StorageResult<()> {
        self.up()?;
        self.inner.delete_campaign(name).await
    }
}

#[async_trait]
impl ClientStore for SwitchableStorage {
    async fn create_client(&self, c: &Client) -> StorageResult<()> {
        self.up()?;
        self.inner.create_client(c).await
    }
    async fn get_client(&self, name: &str) -> StorageResult<Option<ClientDetails>> {
        self.up()?;
        self.inner.get_client(name).await
    }
    async fn replace_client(&self, c: &Client) -> StorageResult<()> {
        self.up()?;
        self.inner.replace_client(c).await
    }
    async fn delete_client(&self, name: &str) -> StorageResult<()> {
        self.up()?;
        self.inner.delete_client(name).await
    }
    async fn list_clients(
        &self,
        limit: usize,
        after: Option<&ClientCursor>,
    ) -> StorageResult<Vec<Client>> {
        self.up()?;
        self.inner.list_clients(limit, after).await
    }
    async fn count_clients(&self) -> StorageResult<u64> {
        self.up()?;
        self.inner.count_clients().await
    }
    async fn list_activity(
        &self,
        client: Option<&str>,
        since: Option<DateTime<Utc>>,
    ) -> StorageResult<Vec<Activity>> {
        self.up()?;
        self.inner.list_activity(client, since).await
    }
    async fn active_clients(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StorageResult<Vec<Client>> {
        self.up()?;
        self.inner.active_clients(from, to).await
    }
    async fn activity_times(
        &self,
        clients: &[String],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StorageResult<Vec<(String, DateTime<Utc>)>> {
        self.up()?;
        self.inner.activity_times(clients, from, to).await
    }
    async fn record_ping(
        &self,
        a: &Activity,
    ) -> StorageResult<Option<Vec<pdd_server::domain::sketch::OpenSketch>>> {
        self.up()?;
        self.inner.record_ping(a).await
    }
    async fn prune_clients(&self, threshold: DateTime<Utc>) -> StorageResult<u64> {
        self.up()?;
        self.inner.prune_clients(threshold).await
    }
    async fn delete_activity_before(&self, before: DateTime<Utc>) -> StorageResult<u64> {
        self.up()?;
        self.inner.delete_activity_before(before).await
    }
}

#[async_trait]
impl SketchStore for SwitchableStorage {
    async fn get_sketch(&self, name: &str) -> StorageResult<Option<Sketch>> {
        self.up()?;
        self.inner.get_sketch(name).await
    }
    async fn create_day_sketches(&self, day: &DaySketches) -> StorageResult<()> {
        self.up()?;
        self.inner.create_day_sketches(day).await
    }
    async fn submit(&self, s: &Submission) -> StorageResult<SubmitOutcome> {
        self.up()?;
        self.inner.submit(s).await
    }
    async fn day_groups(&self, campaign: &str, day: Day) -> StorageResult<Vec<Group>> {
        self.up()?;
        self.inner.day_groups(campaign, day).await
    }
    async fn day_raw_sum(&self, campaign: &str, day: Day) -> StorageResult<Option<Vec<i64>>> {
        self.up()?;
        self.inner.day_raw_sum(campaign, day).await
    }
    async fn delete_sketches_before(&self, campaign: &str, before: Day) -> StorageResult<u64> {
        self.up()?;
        self.inner.delete_sketches_before(campaign, before).await
    }
    async fn delete_orphan_sketches(&self) -> StorageResult<u64> {
        self.up()?;
        self.inner.delete_orphan_sketches().await
    }
}

#[async_trait]
impl AggregationStore for SwitchableStorage {
    async fn put_aggregation(&self, a: &Aggregation) -> StorageResult<()> {
        self.up()?;
        self.inner.put_aggregation(a).await
    }
    async fn list_aggregations(&self, campaign: &str) -> StorageResult<Vec<Aggregation>> {
        self.up()?;
        self.inner.list_aggregations(campaign).await
    }
    async fn get_aggregation(
        &self,
        campaign: &str,
        day: Day,
    ) -> StorageResult<Option<Aggregation>> {
        self.up()?;
        self.inner.get_aggregation(campaign, day).await
    }
}

#[async_trait]
impl JobLedger for SwitchableStorage {
    async fn last_completed(&self, job: &str) -> StorageResult<Option<DateTime<Utc>>> {
        self.up()?;
        self.inner.last_completed(job).await
    }
    async fn claim_job(
        &self,
        job: &str,
        firing: DateTime<Utc>,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> StorageResult<bool> {
        self.up()?;
        self.inner
            .claim_job(job, firing, owner, now, lease_until)
            .await
    }
    async fn complete_job(
        &self,
        job: &str,
        firing: DateTime<Utc>,
        owner: &str,
    ) -> StorageResult<()> {
        self.up()?;
        self.inner.complete_job(job, firing, owner).await
    }
    async fn release_job(&self, job: &str, owner: &str) -> StorageResult<()> {
        self.up()?;
        self.inner.release_job(job, owner).await
    }
}

/// Where the tests' requests come from unless told otherwise.
pub const PEER: &str = "198.51.100.20:40000";
/// A trusted reverse proxy.
pub const PROXY: &str = "10.1.2.3:50000";

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
        storage: storage.clone(),
        geocoder: Arc::new(geocoder),
        metrics: registry.clone(),
        clock: clock.clone(),
        random: Arc::new(SeededRandom::new(7)),
        calendar: Calendar::new(chrono_tz::Europe::London),
        strategy: GroupStrategy::Naive,
        prune_threshold: chrono::Duration::days(15),
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

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: bytes::Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.body.to_vec()).unwrap()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    /// The `errors` of an error body.
    pub fn errors(&self) -> Vec<String> {
        serde_json::from_value(self.json()["errors"].clone())
            .unwrap_or_else(|_| panic!("no errors in {:?}", self.text()))
    }
}

pub fn request(method: &str, path: &str) -> warp::test::RequestBuilder {
    warp::test::request()
        .method(method)
        .path(path)
        .remote_addr(PEER.parse::<SocketAddr>().unwrap())
}

pub fn private(method: &str, path: &str) -> warp::test::RequestBuilder {
    request(method, path).header("authorization", format!("Bearer {TOKEN}"))
}

pub async fn send(filter: &BoxedFilter<(Response,)>, req: warp::test::RequestBuilder) -> Reply {
    let res = req.reply(filter).await;
    Reply {
        status: res.status(),
        headers: res.headers().clone(),
        body: res.into_body(),
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

thread_local! {
    static CAPTURE: std::cell::RefCell<Option<Arc<Mutex<Vec<u8>>>>> =
        const { std::cell::RefCell::new(None) };
}

/// Writes to the buffer of the current thread's log capture, if any. Tests run their requests
/// on their own thread (`warp::test` in a current-thread runtime), so captures do not mix.
struct ThreadWriter;

impl std::io::Write for ThreadWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        CAPTURE.with(|c| {
            if let Some(b) = &*c.borrow() {
                b.lock().unwrap().extend_from_slice(buf);
            }
        });
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One global subscriber for the whole test binary (a per-test default would race with other
/// tests over tracing's cached callsite interest).
fn init_tracing() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let subscriber = tracing_subscriber::fmt()
            .with_writer(|| ThreadWriter)
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
    });
}

/// What tracing writes on this thread from now on.
#[derive(Clone)]
pub struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl LogBuffer {
    pub fn contents(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

pub fn capture_logs() -> LogBuffer {
    init_tracing();
    let buf = Arc::new(Mutex::new(Vec::new()));
    CAPTURE.with(|c| *c.borrow_mut() = Some(buf.clone()));
    LogBuffer(buf)
}

/// One sample of the Prometheus text format.
#[derive(Debug, Clone, PartialEq)]
pub struct PromSample {
    pub name: String,
    pub labels: Labels,
    pub value: f64,
}

impl PromSample {
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn is_name(s: &str, colon: bool) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || (colon && c == ':'))
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || (colon && c == ':'))
}

/// `{a="x",b="y\"z"}` → pairs, unescaping `\\`, `\"` and `\n`; the rest of the line after `}`.
type Labels = Vec<(String, String)>;

fn parse_labels(s: &str) -> Result<(Labels, &str), String> {
    let mut rest = s.strip_prefix('{').ok_or("no {")?;
    let mut labels = Vec::new();
    loop {
        if let Some(r) = rest.strip_prefix('}') {
            return Ok((labels, r));
        }
        let (name, r) = rest.split_once("=\"").ok_or("no =\"")?;
        if !is_name(name, false) {
            return Err(format!("bad label name {name:?}"));
        }
        let mut value = String::new();
        let mut chars = r.char_indices();
        let end = loop {
            match chars.next() {
                None => return Err("unterminated label value".into()),
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, 'n')) => value.push('\n'),
                    other => return Err(format!("bad escape {other:?}")),
                },
                Some((_, '\n')) => return Err("raw line break in label value".into()),
                Some((_, c)) => value.push(c),
            }
        };
        labels.push((name.to_string(), value));
        rest = &r[end + 1..];
        if let Some(r) = rest.strip_prefix(',') {
            rest = r;
        } else if !rest.starts_with('}') {
            return Err("expected , or }".into());
        }
    }
}

/// Parses the text exposition format (0.0.4) strictly: `# HELP` / `# TYPE` lines (one TYPE per
/// family, before its samples), samples `name{labels} value` of a typed family, histogram
/// buckets cumulative and ending with `le="+Inf"` equal to `_count`.
pub fn parse_prometheus(text: &str) -> Result<Vec<PromSample>, String> {
    let mut types: HashMap<String, String> = HashMap::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            match (parts.next(), parts.next(), parts.next()) {
                (Some("HELP"), Some(name), Some(_)) if is_name(name, true) => {}
                (Some("TYPE"), Some(name), Some(kind))
                    if is_name(name, true)
                        && ["counter", "gauge", "histogram", "summary", "untyped"]
                            .contains(&kind) =>
                {
                    if types.insert(name.into(), kind.into()).is_some() {
                        return Err(format!("second TYPE: {line}"));
                    }
                }
                _ => return Err(format!("bad comment: {line}")),
            }
            continue;
        }
        let name_end = line.find(['{', ' ']).ok_or(format!("no value: {line}"))?;
        let name = &line[..name_end];
        if !is_name(name, true) {
            return Err(format!("bad name: {line}"));
        }
        let (labels, rest) = if line[name_end..].starts_with('{') {
            parse_labels(&line[name_end..]).map_err(|e| format!("{e}: {line}"))?
        } else {
            (Vec::new(), &line[name_end..])
        };
        let value = rest
            .strip_prefix(' ')
            .ok_or(format!("no space before value: {line}"))?;
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            "NaN" => f64::NAN,
            v => v.parse().map_err(|_| format!("bad value: {line}"))?,
        };
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .filter(|b| types.get(*b).is_some_and(|k| k == "histogram"))
            .unwrap_or(name);
        if !types.contains_key(family) {
            return Err(format!("sample before its TYPE: {line}"));
        }
        samples.push(PromSample {
            name: name.to_string(),
            labels,
            value,
        });
    }
    // Histogram series: buckets cumulative, +Inf last and equal to _count.
    for s in samples.iter().filter(|s| s.name.ends_with("_count")) {
        let family = s.name.trim_end_matches("_count");
        if types.get(family).map(String::as_str) != Some("histogram") {
            continue;
        }
        let bucket_name = format!("{family}_bucket");
        let buckets: Vec<&PromSample> = samples
            .iter()
            .filter(|b| {
                b.name == bucket_name
                    && b.labels
                        .iter()
                        .filter(|(k, _)| k != "le")
                        .eq(s.labels.iter())
            })
            .collect();
        let counts: Vec<f64> = buckets.iter().map(|b| b.value).collect();
        if !counts.windows(2).all(|w| w[0] <= w[1]) {
            return Err(format!("buckets of {family} not cumulative"));
        }
        match buckets.last() {
            Some(b) if b.label("le") == Some("+Inf") && b.value == s.value => {}
            _ => return Err(format!("last bucket of {family} is not +Inf = count")),
        }
    }
    Ok(samples)
}
