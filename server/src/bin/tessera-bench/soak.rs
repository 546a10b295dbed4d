//! `tessera-bench soak`: mixed load on a running server for a set time (what
//! people do: sign in with a code, load pages, enroll and remove a phone,
//! sign out), reported per interval: flows, requests, errors, latency
//! percentiles and the server's resident memory, then the memory trend. It
//! reports; the only verdict it gives is its exit status, non-zero when any
//! request failed.

use super::{Client, Sample, memory, outbox_code, phone, username};
use anyhow::Context;
use serde_json::{Value, json};
use sqlx::PgPool;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct Soak {
    pub url: String,
    pub pid: u32,
    pub seconds: u64,
    pub interval_seconds: u64,
    pub clients: usize,
    /// How many seeded users to go round.
    pub users: usize,
    pub out: String,
}

/// What one interval saw.
#[derive(Default)]
struct Interval {
    latencies: Vec<Duration>,
    flows: usize,
    errors: usize,
    rss_mib: f64,
}

/// Every interval of the run, filled in by the clients as they go.
struct Record {
    start: Instant,
    every: Duration,
    intervals: Mutex<Vec<Interval>>,
    first_errors: Mutex<Vec<String>>,
}

impl Record {
    fn with<T>(&self, f: impl FnOnce(&mut Interval) -> T) -> T {
        let i = (self.start.elapsed().as_secs_f64() / self.every.as_secs_f64()) as usize;
        let mut all = self.intervals.lock().unwrap();
        if all.len() <= i {
            all.resize_with(i + 1, Interval::default);
        }
        f(&mut all[i])
    }

    /// Times one request (or one step of a few) and counts it.
    async fn time<T>(
        &self,
        what: &str,
        step: impl std::future::Future<Output = anyhow::Result<T>>,
    ) -> anyhow::Result<T> {
        let t = Instant::now();
        let r = step.await;
        if r.is_ok() {
            self.with(|i| i.latencies.push(t.elapsed()));
        }
        self.count_failure(what, r)
    }

    /// Counts a failure of something that is not a request (the driver
    /// reading a code from the outbox), without timing it.
    async fn untimed<T>(
        &self,
        what: &str,
        step: impl std::future::Future<Output = anyhow::Result<T>>,
    ) -> anyhow::Result<T> {
        let r = step.await;
        self.count_failure(what, r)
    }

    fn count_failure<T>(&self, what: &str, r: anyhow::Result<T>) -> anyhow::Result<T> {
        if let Err(e) = &r {
            self.with(|i| i.errors += 1);
            let mut first = self.first_errors.lock().unwrap();
            if first.len() < 10 {
                first.push(format!("{what}: {e:#}"));
            }
        }
        r.with_context(|| what.to_owned())
    }
}

/// The nickname of the phones the soak adds (and removes again).
const SOAK_PHONE: &str = "Soak";

/// A status other than the one expected, as an error.
fn expect(status: u16, want: u16, what: &str) -> anyhow::Result<()> {
    anyhow::ensure!(status == want, "{what} answered {status}");
    Ok(())
}

impl Client {
    async fn page(&mut self, path: &str) -> anyhow::Result<()> {
        let req = self
            .http
            .get(format!("{}{path}", self.base))
            .header("accept", "text/html");
        let (status, _) = self.send(req).await?;
        expect(status, 200, path)
    }

    async fn json(&mut self, endpoint: &str) -> anyhow::Result<Value> {
        let req = self
            .http
            .get(format!("{}/api/{endpoint}", self.base))
            .header("accept", "application/json");
        let (status, body) = self.send(req).await?;
        expect(status, 200, endpoint)?;
        Ok(serde_json::from_str(&body)?)
    }
}

/// One person's visit: sign in (password, then the code from the outbox),
/// two pages, every fourth visit a new phone enrolled and removed again (so
/// the data stays the same size), sign out.
async fn visit(
    http: &reqwest::Client,
    url: &str,
    pool: &PgPool,
    record: &Record,
    user: usize,
    new_number: Option<String>,
) -> anyhow::Result<()> {
    let mut c = Client::new(http, url);
    // Each person from an address of their own, through the trusted proxy.
    c.forwarded_for = Some(format!("10.{}.{}.{}", user >> 16 & 255, user >> 8 & 255, user & 255));
    record.time("password step", c.password_step(&username(user))).await?;
    let code = record
        .untimed("reading the code", outbox_code(pool, &phone(user)))
        .await?;
    record.time("code step", c.code_step(&code)).await?;
    // The second step renews the session and its CSRF token.
    record.time("session", c.refresh_csrf()).await?;
    record.time("home page", c.page("/")).await?;
    record.time("credentials page", c.page("/credentials")).await?;
    if let Some(number) = new_number {
        record
            .time("enrollment start", async {
                let fields = [("phone", number.as_str()), ("nickname", SOAK_PHONE)];
                expect(c.post("credentials/start", &fields).await?, 200, "enrollment start")
            })
            .await?;
        let code = record.untimed("reading the code", outbox_code(pool, &number)).await?;
        record
            .time("enrollment code", async {
                expect(
                    c.post("credentials/verify", &[("code", &code)]).await?,
                    200,
                    "enrollment code",
                )
            })
            .await?;
        let listed = record.time("credentials list", c.json("credentials")).await?;
        let id = listed["phones"]
            .as_array()
            .and_then(|phones| phones.iter().find(|p| p["nickname"] == SOAK_PHONE))
            .and_then(|p| p["id"].as_str())
            .context("the new phone is not listed")?
            .to_owned();
        record
            .time("removal", async {
                let fields = [("id", id.as_str()), ("confirm", "true")];
                expect(c.post("credentials/remove", &fields).await?, 200, "removal")
            })
            .await?;
    }
    record
        .time("sign out", async {
            expect(c.post("sign_out", &[]).await?, 200, "sign out")
        })
        .await
}

pub async fn run(pool: PgPool, soak: Soak) -> anyhow::Result<()> {
    let http = super::http_client()?;
    let record = Arc::new(Record {
        start: Instant::now(),
        every: Duration::from_secs(soak.interval_seconds),
        intervals: Mutex::new(Vec::new()),
        first_errors: Mutex::new(Vec::new()),
    });
    let duration = Duration::from_secs(soak.seconds);
    let visits = Arc::new(AtomicUsize::new(0));

    // Memory, sampled once a second into the interval it falls in (the
    // interval keeps its last sample).
    let sampler = {
        let record = record.clone();
        let pid = soak.pid;
        tokio::spawn(async move {
            loop {
                let rss = memory(pid).0;
                record.with(|i| i.rss_mib = rss);
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        })
    };

    let mut workers = Vec::new();
    for _ in 0..soak.clients {
        let (http, url, pool, record, visits) = (
            http.clone(),
            soak.url.clone(),
            pool.clone(),
            record.clone(),
            visits.clone(),
        );
        let users = soak.users;
        workers.push(tokio::spawn(async move {
            while record.start.elapsed() < duration {
                let n = visits.fetch_add(1, Ordering::Relaxed);
                // A fresh number every time: the per-number budget is real.
                let new_number = (n % 4 == 0).then(|| format!("+1202{:07}", 5_000_000 + n / 4 % 5_000_000));
                match visit(&http, &url, &pool, &record, n % users, new_number).await {
                    Ok(()) => record.with(|i| i.flows += 1),
                    // Counted where it failed; a short pause before the next.
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        }));
    }
    for w in workers {
        w.await?;
    }
    sampler.abort();

    let intervals = std::mem::take(&mut *record.intervals.lock().unwrap());
    let minutes = |i: usize| (i as u64 * soak.interval_seconds) as f64 / 60.0;
    println!(
        "{:>8} {:>7} {:>9} {:>7} {:>9} {:>9} {:>9} {:>9}",
        "minute", "visits", "requests", "errors", "p50 ms", "p95 ms", "p99 ms", "RSS MiB"
    );
    let mut rows = Vec::new();
    for (i, interval) in intervals.iter().enumerate() {
        let sample = Sample {
            latencies: interval.latencies.clone(),
            errors: interval.errors,
            elapsed: record.every,
            ran_dry: false,
        };
        println!(
            "{:>8.1} {:>7} {:>9} {:>7} {:>9.2} {:>9.2} {:>9.2} {:>9.1}",
            minutes(i),
            interval.flows,
            interval.latencies.len(),
            interval.errors,
            sample.pct(0.50),
            sample.pct(0.95),
            sample.pct(0.99),
            interval.rss_mib
        );
        rows.push(json!({
            "minute": minutes(i), "visits": interval.flows, "requests": interval.latencies.len(),
            "errors": interval.errors, "p50_ms": sample.pct(0.50), "p95_ms": sample.pct(0.95),
            "p99_ms": sample.pct(0.99), "rss_mib": interval.rss_mib,
        }));
    }
    let errors: usize = intervals.iter().map(|i| i.errors).sum();
    let requests: usize = intervals.iter().map(|i| i.latencies.len()).sum();
    // The memory trend over the second half (after the caches have filled):
    // a least-squares slope, in MiB per hour.
    let half: Vec<(f64, f64)> = intervals
        .iter()
        .enumerate()
        .skip(intervals.len() / 2)
        .filter(|(_, i)| i.rss_mib > 0.0)
        .map(|(n, i)| (minutes(n), i.rss_mib))
        .collect();
    let slope_per_hour = slope(&half) * 60.0;
    // The last interval may end with the run, before its sample was taken.
    let sampled: Vec<f64> = intervals.iter().map(|i| i.rss_mib).filter(|&rss| rss > 0.0).collect();
    let first = sampled.first().copied().unwrap_or(0.0);
    let last = sampled.last().copied().unwrap_or(0.0);
    println!(
        "\n{requests} requests, {errors} errors; RSS {first:.1} MiB in the first sample, {last:.1} MiB in the last; \
         trend over the second half {slope_per_hour:+.1} MiB/hour"
    );
    for e in record.first_errors.lock().unwrap().iter() {
        println!("error: {e}");
    }
    let report = json!({
        "seconds": soak.seconds, "clients": soak.clients, "requests": requests, "errors": errors,
        "rss_trend_mib_per_hour": slope_per_hour, "intervals": rows,
    });
    std::fs::write(&soak.out, serde_json::to_string_pretty(&report)?)?;
    println!("JSON: {}", soak.out);
    anyhow::ensure!(errors == 0, "{errors} requests failed");
    Ok(())
}

/// The least-squares slope of y over x (0 with fewer than two points).
fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if points.len() < 2 {
        return 0.0;
    }
    let (mx, my) = (
        points.iter().map(|p| p.0).sum::<f64>() / n,
        points.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let var: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if var == 0.0 {
        return 0.0;
    }
    points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum::<f64>() / var
}

#[cfg(test)]
mod tests {
    use super::slope;

    #[test]
    fn the_slope_of_a_line_is_its_gradient_and_flat_is_zero() {
        assert!((slope(&[(0.0, 1.0), (1.0, 3.0), (2.0, 5.0)]) - 2.0).abs() < 1e-9);
        assert_eq!(slope(&[(0.0, 7.0), (1.0, 7.0), (2.0, 7.0)]), 0.0);
        assert_eq!(slope(&[(1.0, 7.0)]), 0.0);
    }
}
