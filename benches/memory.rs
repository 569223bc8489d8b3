//! Figures for the memory storage at production scale: 100,000 clients active yesterday and
//! 5 active campaigns of 50 queries at groupSize 50. Prints the time of one ping (5 commands),
//! one submission (51 encrypted values of about 77 digits), create-sketches for everyone,
//! aggregation of one fully submitted campaign-day, and resident memory.
//!
//! Run: `cargo bench --bench memory` (release build). `PDD_BENCH_CLIENTS=N` scales it down,
//! e.g. to check it quickly with `cargo test --bench memory` (unoptimised: figures meaningless).
//! Times are the thread's CPU time (the runtime runs on this thread only), which a busy machine
//! disturbs less than wall time; both are printed. The allocator is the server's, mimalloc.

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use pdd_server::adapters::random::OsRandom;
use pdd_server::adapters::storage::memory::MemoryStorage;
use pdd_server::domain::campaign::Campaign;
use pdd_server::domain::client::Client;
use pdd_server::domain::service::jobs::JobKind;
use pdd_server::domain::service::ping::{Command, PingInput};
use pdd_server::domain::service::sketches::SubmissionInput;
use pdd_server::domain::service::{Context, Services};
use pdd_server::domain::sketch;
use pdd_server::ports::Storage;
use pdd_server::testing::bench::memory_figures;
use pdd_server::testing::{
    blinded, campaign_input, cancelling_blinds, client_input, context, exact_queries,
    london_at as london, ManualClock,
};

/// The server's allocator (see `src/main.rs`), counting allocations to show what a request
/// costs besides time.
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: defers every call to mimalloc unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        mimalloc::MiMalloc.alloc(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        mimalloc::MiMalloc.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        mimalloc::MiMalloc.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.load(Ordering::Relaxed)
}

const CAMPAIGNS: usize = 5;
const QUERIES: usize = 50;
const GROUP_SIZE: i64 = 50;
const PING_SAMPLES: usize = 10_000;

fn main() {
    let clients: usize = std::env::var("PDD_BENCH_CLIENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(run(clients));
}

/// CPU time of this thread: the machine may be shared, and the runtime runs on this thread
/// only, so this is what the work itself costs whatever else runs.
fn cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Wall and CPU time since it started, and allocations made meanwhile.
struct Timer(Instant, Duration, u64);

impl Timer {
    fn start() -> Self {
        Timer(Instant::now(), cpu(), allocations())
    }

    fn stop(&self) -> (Duration, Duration) {
        (self.0.elapsed(), cpu() - self.1)
    }

    fn allocations(&self) -> u64 {
        allocations() - self.2
    }
}

fn once(what: &str, (wall, cpu): (Duration, Duration), note: &str) {
    println!("{what:<40} cpu {cpu:>9.1?}  wall {wall:>9.1?}  {note}");
}

/// Samples of wall and CPU times and allocation counts.
#[derive(Default)]
struct Figures(Vec<Duration>, Vec<Duration>, Vec<u64>);

impl Figures {
    fn push(&mut self, timer: &Timer) {
        let (wall, cpu) = timer.stop();
        self.2.push(timer.allocations());
        self.0.push(wall);
        self.1.push(cpu);
    }

    fn line(&mut self, what: &str) {
        self.0.sort();
        self.1.sort();
        self.2.sort();
        let at = |v: &[Duration], q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
        println!(
            "{what:<40} cpu median {:>8.1?} p90 {:>8.1?} p99 {:>8.1?} | wall median {:>8.1?} p99 {:>8.1?} | {} allocations ({} samples)",
            at(&self.1, 0.5),
            at(&self.1, 0.9),
            at(&self.1, 0.99),
            at(&self.0, 0.5),
            at(&self.0, 0.99),
            self.2[self.2.len() / 2],
            self.0.len()
        );
    }
}

fn memory_line(when: &str) {
    println!("{:<40} {}", format!("memory {when}"), memory_figures());
}

async fn run(n_clients: usize) {
    println!("pdd-server memory benchmark: {n_clients} clients, {CAMPAIGNS} campaigns of {QUERIES} queries, groupSize {GROUP_SIZE}");
    let today = NaiveDate::from_ymd_opt(2018, 5, 20).expect("date");
    let yesterday = today.pred_opt().expect("date");
    let clock = Arc::new(ManualClock::new(london(yesterday, 9, 0)));
    let memory = Arc::new(MemoryStorage::new());
    let storage: Arc<dyn Storage> = memory.clone();
    let ctx = Context {
        random: Arc::new(OsRandom),
        ..context(storage.clone(), clock.clone())
    };
    let services = Services::new(ctx);

    // ---- setup: campaigns, clients, yesterday's activity
    let setup = Timer::start();
    let mut campaigns: Vec<Campaign> = Vec::new();
    for c in 0..CAMPAIGNS {
        let input = campaign_input(
            &format!("Campaign {c}"),
            exact_queries(QUERIES, |q| format!("query {c}-{q}")),
            london(today - chrono::Duration::days(10), 9, 0),
            GROUP_SIZE,
        );
        let view = services.campaigns.create(input).await.expect("campaign");
        campaigns.push(view.campaign);
    }
    let mut clients: Vec<Client> = Vec::with_capacity(n_clients);
    let mut rng = StdRng::seed_from_u64(1);
    for i in 0..n_clients {
        let client = services
            .clients
            .register(client_input(i))
            .await
            .expect("client");
        clients.push(client);
    }
    clock.set(london(yesterday, 12, 0));
    for client in &clients {
        services
            .ping
            .ping(&client.name, PingInput::default())
            .await
            .expect("ping");
    }
    once("setup (register + ping everyone)", setup.stop(), "");
    memory_line("after setup");

    // ---- create-sketches for everyone, all campaigns
    let at = london(today, 1, 0);
    clock.set(at);
    let timer = Timer::start();
    let report = services
        .jobs
        .run(JobKind::CreateSketches, at)
        .await
        .expect("create-sketches");
    let create_time = timer.stop();
    assert_eq!(report.get("created"), (n_clients * CAMPAIGNS) as u64);
    once(
        "create-sketches (all campaigns)",
        create_time,
        &format!(
            "({} sketches, {} groups)",
            report.get("created"),
            report.get("groups")
        ),
    );
    memory_line("after create-sketches");

    // ---- ping: 5 commands each
    clock.set(london(today, 10, 0));
    let mut ping_times = Figures::default();
    let mut commands: Vec<Command> = Vec::new();
    for (i, client) in clients.iter().enumerate().take(PING_SAMPLES) {
        let timer = Timer::start();
        let response = services
            .ping
            .ping(&client.name, PingInput::default())
            .await
            .expect("ping");
        ping_times.push(&timer);
        assert_eq!(response.submit.len(), CAMPAIGNS);
        if i == 0 {
            commands = response.submit;
        }
    }
    ping_times.line("ping (5 commands)");

    // ---- submission: every member of one campaign-day, real blinded vectors
    let campaign = storage
        .get_sketch(&commands[0].sketch_name)
        .await
        .expect("sketch")
        .expect("sketch")
        .campaign_name;
    let day = commands[0].round;
    let groups = storage.day_groups(&campaign, day).await.expect("groups");
    // The sketch of each (group, member position), from the members' pings.
    let mut sketch_at: std::collections::HashMap<(u32, usize), String> =
        std::collections::HashMap::new();
    {
        let by_key: std::collections::HashMap<&str, &Client> =
            clients.iter().map(|c| (c.public_key.as_str(), c)).collect();
        for g in &groups {
            for (pos, key) in g.public_keys.iter().enumerate() {
                let client = by_key[key.as_str()];
                let response = services
                    .ping
                    .ping(&client.name, PingInput::default())
                    .await
                    .expect("ping");
                let command = response
                    .submit
                    .into_iter()
                    .find(|c| *c.public_keys == g.public_keys)
                    .expect("command");
                sketch_at.insert((g.group, pos), command.sketch_name);
            }
        }
    }
    let width = QUERIES + 1;
    let mut submit_times = Figures::default();
    let mut digits = 0usize;
    let mut true_total = vec![0i64; width];
    for g in &groups {
        let size = g.public_keys.len();
        let blinds = cancelling_blinds(size, width, &mut rng);
        for (pos, member_blinds) in blinds.iter().enumerate() {
            let counts: Vec<i64> = (0..width).map(|_| rng.gen_range(0..20)).collect();
            for (t, c) in true_total.iter_mut().zip(&counts) {
                *t += c;
            }
            let values = blinded(&counts, member_blinds);
            digits = digits.max(values.iter().map(String::len).max().unwrap_or(0));
            let input = SubmissionInput {
                encrypted_values: Some(values),
                raw_values: Some(counts),
            };
            let name = &sketch_at[&(g.group, pos)];
            let timer = Timer::start();
            services
                .sketches
                .submit(name, input)
                .await
                .expect("submission");
            submit_times.push(&timer);
        }
    }
    submit_times.line(&format!("submission ({width} values, ≤{digits} chars)"));
    memory_line("after submissions");

    // ---- aggregation of that campaign-day
    let campaign = services
        .campaigns
        .get(&campaign)
        .await
        .expect("campaign")
        .campaign;
    let timer = Timer::start();
    let groups = storage
        .day_groups(&campaign.name, day)
        .await
        .expect("groups");
    let out = sketch::aggregate(&campaign, day, &groups, None).expect("sums fit");
    storage
        .put_aggregation(&out.aggregation)
        .await
        .expect("put");
    let one_day = timer.stop();
    assert_eq!(out.aggregation.decrypted_values, true_total);
    assert_eq!(out.aggregation.stats.decrypted_count, n_clients as u64);
    once(
        "aggregation of one campaign-day",
        one_day,
        &format!(
            "({} groups, all decrypted to the true totals)",
            groups.len()
        ),
    );
    let at = london(today + chrono::Duration::days(1), 0, 30);
    clock.set(at);
    let timer = Timer::start();
    let report = services
        .jobs
        .run(JobKind::AggregateSketches, at)
        .await
        .expect("aggregate");
    once(
        "aggregate-sketches job",
        timer.stop(),
        &format!(
            "({} campaign-days, one fully submitted)",
            report.get("aggregated")
        ),
    );
    let (_, result) = services
        .campaigns
        .result(&campaign.name, day)
        .await
        .expect("result");
    assert_eq!(result.decrypted_values, true_total);
    memory_line("at the end");
    drop(memory);
}
