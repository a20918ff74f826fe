//! Kafka: each record one message on one topic, keyed by its flow id so one flow's records stay
//! in order on one partition. librdkafka does the batching, compression and retries on its own
//! threads; this sink hands messages over and, on the output thread, collects the delivery
//! reports and counts what became of them. (No thread of its own polls for the reports: with
//! one, woken for every answered request, a replay to Kafka measured 1.05 × the time.) Its
//! queue is bounded (`queue.buffering.max.messages`): live, when it is full the record is
//! dropped and counted, never waited for, so a slow or dead cluster cannot stall capture; on
//! replay the sink waits for room instead, as the queue in front of it does (nothing is lost to
//! a reader that is merely faster than the cluster).

use super::{Flushed, Meta, Sent, SinkTrouble, Transport};
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{
    BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext, PurgeConfig,
};
use rdkafka::{ClientContext, Message};
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Records librdkafka may hold (queued and in flight) before new ones are dropped.
pub const MAX_IN_FLIGHT: usize = 100_000;
/// The output queue on replay, in records. The client library's threads (compressing and
/// framing batches) and often the broker itself share the cores with the output thread and
/// take its core for milliseconds at a time; the default replay queue (1,024 records, about
/// 1.5 ms of the output thread's work) then filled and stopped the capture thread. As many
/// as live capture holds (a few MiB at most).
const REPLAY_QUEUE: usize = 16_384;

/// Delivery reports are served after this many records handed over (and at every flush):
/// a record's memory in librdkafka is freed, and its room in the queue given back, only when
/// its report is served.
const SERVE_EVERY: u64 = 256;
/// At most this many polls each time reports are served (each brings the reports of one
/// answered request, hundreds of records); the next serving takes the rest.
const SERVE_ROUNDS: usize = 64;
/// A wait for the cluster (for room in a full queue, for the last deliveries at shutdown)
/// sleeps this long between servings of the reports. Not the client library's `poll` with a
/// timeout: it rounds the time left down to whole milliseconds, so its last millisecond is a
/// loop of non-blocking polls, and a wait through it kept a core busy that librdkafka's own
/// threads (compressing, sending) and the broker needed.
const NAP: Duration = Duration::from_micros(500);

/// `kafka://HOST:PORT[,HOST:PORT...]/TOPIC`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KafkaTarget {
    pub brokers: Vec<String>,
    pub topic: String,
}

impl KafkaTarget {
    pub fn parse(url: &str) -> Result<Self, String> {
        let rest = url
            .strip_prefix("kafka://")
            .ok_or_else(|| format!("'{url}' is not kafka://HOST:PORT[,HOST:PORT...]/TOPIC"))?;
        let (hosts, topic) = rest
            .split_once('/')
            .ok_or_else(|| format!("'{url}' names no topic (kafka://HOST:PORT/TOPIC)"))?;
        // Kafka's rule for topic names: letters, digits, '.', '_', '-', at most 249.
        if topic.is_empty()
            || topic.len() > 249
            || !topic
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return Err(format!(
                "'{topic}' is not a Kafka topic name (letters, digits, '.', '_', '-')"
            ));
        }
        let mut brokers = Vec::new();
        for h in hosts.split(',') {
            let ok = h
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
            if !ok {
                return Err(format!("'{h}' in '{url}' is not HOST:PORT"));
            }
            brokers.push(h.to_owned());
        }
        Ok(KafkaTarget {
            brokers,
            topic: topic.to_owned(),
        })
    }
}

/// The sink's settings: where, and librdkafka properties on top of the defaults (TLS, SASL,
/// compression, timeouts), from `--kafka-option` and the `[kafka]` section of the policy file.
#[derive(Clone, Debug)]
pub struct KafkaConfig {
    pub target: KafkaTarget,
    pub options: Vec<(String, String)>,
    /// How long to wait at start for a broker to answer.
    pub connect_wait: Duration,
}

impl KafkaConfig {
    /// The producer configuration: our defaults, then the user's options.
    fn client_config(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", self.target.brokers.join(","))
            .set("client.id", "bjnp-watch")
            // Batching and compression: records are small, alike and bursty. With one request in
            // flight a connection, records batch up while a request waits for its answer; the
            // linger is what a batch waits when none is out. (20 ms made the last batches of a
            // replay wait that long, one after the other: 40 ms at the end of a small one.)
            .set("linger.ms", "5")
            .set("compression.type", "lz4")
            .set("queue.buffering.max.messages", MAX_IN_FLIGHT.to_string())
            .set("queue.buffering.max.kbytes", "262144")
            // librdkafka spaces its attempts to connect to the cluster by half of this (the
            // default 100 ms): the connection every run starts with waited up to 50 ms for it.
            // A broker that goes away is still retried with a doubling wait, up to 10 s.
            .set("reconnect.backoff.ms", "20")
            // Connect to every broker the cluster names at once. With sparse connections (the
            // default) the start-up check's request waited for a connection to the broker the
            // first answer named, opened on demand: the capture started about 17 ms after
            // launch instead of 6 (six timed runs each). A producer of one topic talks to the
            // leaders of its partitions anyway; the rest are idle connections.
            .set("enable.sparse.connections", "false")
            // a record is given up (and counted) after 30 s of retrying, not librdkafka's 300
            .set("message.timeout.ms", "30000")
            // order within a flow survives retries
            .set("enable.idempotence", "false")
            .set("max.in.flight.requests.per.connection", "1")
            .set("acks", "all");
        for (k, v) in &self.options {
            c.set(k, v);
        }
        c
    }

    /// The settings as `--check-config` shows them (secrets masked).
    pub fn describe(&self) -> String {
        let mut s = format!(
            "kafka://{}/{}",
            self.target.brokers.join(","),
            self.target.topic
        );
        for (k, v) in &self.options {
            let shown = if k.contains("password") || k.contains("secret") || k.ends_with(".key") {
                "***"
            } else {
                v.as_str()
            };
            s.push_str(&format!(" {k}={shown}"));
        }
        s
    }

    /// Checks the options librdkafka would refuse, without connecting: a producer is made with
    /// every setting but the brokers, so that librdkafka checks what only a producer checks
    /// (a CA file that cannot be read, a SASL mechanism it lacks) and connects to nobody.
    /// (With the brokers it connects as soon as the producer exists, and tearing that one down
    /// cost every run a tenth of a second.)
    pub fn check(&self) -> Result<(), String> {
        self.client_config()
            .remove("bootstrap.servers")
            .create_with_context::<_, BaseProducer<Reports>>(Reports::default())
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// What librdkafka's threads tell the sink.
#[derive(Default)]
struct Reports {
    delivered: AtomicU64,
    failed: AtomicU64,
    /// The latest error librdkafka reported (a broker down, a delivery failure).
    error: Mutex<Option<String>>,
}

impl ClientContext for Reports {
    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, log_message: &str) {
        use rdkafka::config::RDKafkaLogLevel::*;
        match level {
            // a broker that cannot be reached logs at Error on every retry: the sink reports
            // trouble once (a `warning` record), the details are for -vv
            Emerg | Alert | Critical => tracing::warn!(fac, "kafka: {log_message}"),
            _ => tracing::debug!(fac, "kafka: {log_message}"),
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        if let Ok(mut e) = self.error.lock() {
            *e = Some(format!("{error} ({reason})"));
        }
    }
}

impl Reports {
    /// Reports served so far, delivered or failed.
    fn settled(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed) + self.failed.load(Ordering::Relaxed)
    }
}

impl ProducerContext for Reports {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => {
                self.delivered.fetch_add(1, Ordering::Relaxed);
            }
            Err((e, m)) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut slot) = self.error.lock() {
                    *slot = Some(format!("{e} (topic {})", m.topic()));
                }
            }
        }
    }
}

pub struct Kafka {
    /// Always `Some` until dropped (then handed to a thread of its own).
    producer: Option<BaseProducer<Reports>>,
    topic: String,
    description: String,
    /// Records librdkafka took, and the delivered and failed counts already reported.
    handed: u64,
    seen_delivered: u64,
    seen_failed: u64,
    /// Dropped at send because librdkafka's queue was full (a dead or slow cluster).
    queue_full: u64,
    /// Trouble being reported since `Episode`.
    trouble: Option<Episode>,
    reconnects: u64,
    deadline: Option<Instant>,
    /// Replay: wait for room in librdkafka's queue rather than drop.
    lossless: bool,
    /// Shut down with records written off as lost: from then on every record handed over is
    /// lost as well (past the deadline nothing is waited for), and late reports of those
    /// written off are not counted twice. `handed` as of the last write-off.
    closed: Option<u64>,
}

/// A stretch of trouble: the counts when it began.
#[derive(Clone, Copy)]
struct Episode {
    delivered: u64,
    lost: u64,
}

/// Why [`Kafka::connect`] gave no sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectError {
    /// librdkafka refused the settings (the user's to fix).
    Settings(String),
    /// No broker answered in time.
    Unreachable(String),
}

impl Kafka {
    /// A producer for `config`, once a broker answered within `connect_wait`.
    pub fn connect(config: &KafkaConfig) -> Result<Kafka, ConnectError> {
        let producer: BaseProducer<Reports> = config
            .client_config()
            .create_with_context(Reports::default())
            .map_err(|e| ConnectError::Settings(e.to_string()))?;
        let description = format!(
            "kafka://{}/{}",
            config.target.brokers.join(","),
            config.target.topic
        );
        // The topic's metadata only: an answer about every topic took the test broker 50 ms
        // at times (a second client saw it too), and a cluster with many topics longer.
        producer
            .client()
            .fetch_metadata(Some(&config.target.topic), config.connect_wait)
            .map_err(|e| {
                ConnectError::Unreachable(format!(
                    "no Kafka broker of {description} answered within {} s: {e}",
                    config.connect_wait.as_secs()
                ))
            })?;
        Ok(Kafka {
            producer: Some(producer),
            topic: config.target.topic.clone(),
            description,
            handed: 0,
            seen_delivered: 0,
            seen_failed: 0,
            queue_full: 0,
            trouble: None,
            reconnects: 0,
            deadline: None,
            lossless: false,
            closed: None,
        })
    }

    fn producer(&self) -> &BaseProducer<Reports> {
        self.producer
            .as_ref()
            .expect("the producer lives as long as the sink")
    }

    fn reports(&self) -> &Reports {
        self.producer().context()
    }

    /// Delivered and failed since the last call.
    fn settle(&mut self) -> Flushed {
        let delivered = self.reports().delivered.load(Ordering::Relaxed);
        let failed = self.reports().failed.load(Ordering::Relaxed);
        let f = Flushed {
            written: delivered - self.seen_delivered,
            lost: failed - self.seen_failed,
        };
        self.seen_delivered = delivered;
        self.seen_failed = failed;
        f
    }

    /// Handed over and not yet delivered or failed.
    fn outstanding(&self) -> u64 {
        self.handed - self.seen_delivered - self.seen_failed
    }

    /// Waits until librdkafka holds no record (each delivered or failed, its report counted)
    /// or `deadline` passes. Not the client library's flush: that one waits in steps of a
    /// tenth of a second, which made every run end up to 100 ms late.
    fn drain_until(&self, deadline: Instant) {
        loop {
            // a zero-time flush wakes the broker threads to send what waits for `linger.ms`
            let _ = self.producer().flush(Duration::ZERO);
            self.serve();
            if self.producer().in_flight_count() == 0 || Instant::now() >= deadline {
                return;
            }
            std::thread::sleep(NAP);
        }
    }

    /// Serves librdkafka's waiting reports (deliveries, errors) on this thread, until a poll
    /// brings no new delivery report (a bounded number of times).
    fn serve(&self) {
        let reports = self.reports();
        for _ in 0..SERVE_ROUNDS {
            let before = reports.settled();
            self.producer().poll(Duration::ZERO);
            if reports.settled() == before {
                return;
            }
        }
    }

    /// Records lost so far: failed deliveries and drops at a full queue.
    fn lost_total(&self) -> u64 {
        self.reports().failed.load(Ordering::Relaxed) + self.queue_full
    }
}

/// `n` in decimal, without allocating.
fn decimal(n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    let mut n = n;
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

impl Transport for Kafka {
    fn send(&mut self, line: &[u8], meta: Meta) -> io::Result<Sent> {
        let mut record = BaseRecord::<[u8], [u8]>::to(&self.topic).payload(line);
        let mut buf = [0u8; 20];
        if let Some(id) = meta.key {
            record = record.key(decimal(id, &mut buf));
        }
        let mut result = self.producer().send(record);
        // Replay: room comes back as the cluster acknowledges (or, if it is gone, as records
        // time out); a deadline (shutdown), or a minute for this one record, ends the wait.
        // (The clock is read only once the queue is full: most records never wait.)
        let mut give_up = None;
        while self.lossless
            && matches!(
                result,
                Err((
                    KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull),
                    _
                ))
            )
        {
            let now = Instant::now();
            let give_up = *give_up.get_or_insert(now + Duration::from_secs(60));
            if now >= give_up || self.deadline.is_some_and(|d| now >= d) {
                break;
            }
            // room comes back as reports are served
            std::thread::sleep(NAP);
            self.serve();
            if let Err((_, r)) = result {
                result = self.producer().send(r);
            }
        }
        match result {
            Ok(()) => {
                self.handed += 1;
                if self.handed % SERVE_EVERY == 0 {
                    self.serve();
                }
                Ok(Sent::Buffered)
            }
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                self.queue_full += 1;
                if let Ok(mut e) = self.reports().error.lock() {
                    e.get_or_insert_with(|| {
                        format!(
                            "{MAX_IN_FLIGHT} records wait for the cluster; new ones are dropped"
                        )
                    });
                }
                Ok(Sent::Dropped)
            }
            // a record the cluster can never take (too large): lost, counted
            Err((e, _)) => {
                tracing::debug!(error = %e, "kafka: record refused");
                Ok(Sent::Dropped)
            }
        }
    }

    fn flush(&mut self) -> io::Result<Flushed> {
        if let Some(off) = self.closed {
            // past the deadline: what was handed over since is lost (and no longer in flight)
            let lost = self.handed - off;
            self.closed = Some(self.handed);
            self.seen_failed += lost;
            return Ok(Flushed { written: 0, lost });
        }
        if let Some(d) = self.deadline {
            // Shutting down: wait for deliveries until the deadline, then give up on the rest
            // (counted as lost).
            self.drain_until(d);
            if self.producer().in_flight_count() > 0 {
                self.producer()
                    .purge(PurgeConfig::default().queue().inflight());
            }
            let mut f = self.settle();
            let rest = self.outstanding();
            if rest > 0 {
                f.lost += rest;
                self.seen_failed += rest;
                self.closed = Some(self.handed);
            }
            return Ok(f);
        }
        self.serve();
        Ok(self.settle())
    }

    fn in_flight(&self) -> u64 {
        self.outstanding()
    }

    fn replay_queue(&self) -> Option<usize> {
        Some(REPLAY_QUEUE)
    }

    fn reconnects(&self) -> u64 {
        self.reconnects
    }

    fn trouble(&mut self) -> Option<SinkTrouble> {
        let error = self.reports().error.lock().ok().and_then(|mut e| e.take());
        let delivered = self.reports().delivered.load(Ordering::Relaxed);
        match (self.trouble, error) {
            (None, Some(error)) => {
                self.trouble = Some(Episode {
                    delivered,
                    lost: self.lost_total(),
                });
                Some(SinkTrouble {
                    error,
                    lost: 0,
                    recovered: false,
                    reported: false,
                })
            }
            // deliveries go through again, with no new error: the episode is over
            (Some(ep), None) if delivered > ep.delivered => {
                self.trouble = None;
                self.reconnects += 1;
                let lost = self.lost_total() - ep.lost;
                Some(SinkTrouble {
                    error: "the cluster took records again".into(),
                    lost,
                    recovered: true,
                    reported: true,
                })
            }
            (Some(_), Some(_)) => {
                // still in trouble: the new start of the episode is now
                if let Some(ep) = self.trouble.as_mut() {
                    ep.delivered = delivered;
                }
                None
            }
            _ => None,
        }
    }

    fn set_deadline(&mut self, deadline: Instant) {
        self.deadline = Some(deadline);
    }

    fn set_lossless(&mut self, lossless: bool) {
        self.lossless = lossless;
    }

    fn description(&self) -> String {
        self.description.clone()
    }
}

impl Drop for Kafka {
    fn drop(&mut self) {
        let Some(producer) = self.producer.take() else {
            return;
        };
        // Never wait on a dead cluster at exit: what is left was counted by the last flush.
        producer.purge(PurgeConfig::default().queue().inflight());
        // librdkafka's teardown joins its broker threads, which can sit in a connect attempt
        // for a second or more; the process is about to exit, so that happens off this thread
        // and nobody waits for it.
        std::thread::spawn(move || drop(producer));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let t = KafkaTarget::parse("kafka://k1:9092,k2:9093/bjnp.records").unwrap();
        assert_eq!(t.brokers, ["k1:9092", "k2:9093"]);
        assert_eq!(t.topic, "bjnp.records");
        for bad in [
            "kafka://k1:9092",
            "kafka://k1/topic",
            "kafka://k1:x/topic",
            "kafka://:9092/topic",
            "kafka://k1:9092/",
            "kafka://k1:9092/bad topic",
            "http://k1:9092/topic",
        ] {
            assert!(KafkaTarget::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn keys_are_decimal() {
        let mut b = [0u8; 20];
        assert_eq!(decimal(0, &mut b), b"0");
        assert_eq!(decimal(6_540_490_211_017_547, &mut b), b"6540490211017547");
        assert_eq!(decimal(u64::MAX, &mut b), u64::MAX.to_string().as_bytes());
    }

    #[test]
    fn secrets_are_masked() {
        let c = KafkaConfig {
            target: KafkaTarget::parse("kafka://k1:9092/t").unwrap(),
            options: vec![
                ("sasl.password".into(), "hunter2".into()),
                ("security.protocol".into(), "SASL_PLAINTEXT".into()),
                ("sasl.mechanism".into(), "SCRAM-SHA-256".into()),
                ("sasl.username".into(), "sensor".into()),
            ],
            connect_wait: Duration::from_secs(1),
        };
        let d = c.describe();
        assert!(
            !d.contains("hunter2") && d.contains("sasl.password=***"),
            "{d}"
        );
        assert!(d.contains("security.protocol=SASL_PLAINTEXT"));
        assert_eq!(c.check(), Ok(()));
        let bad = KafkaConfig {
            options: vec![("no.such.property".into(), "1".into())],
            ..c
        };
        assert!(bad.check().is_err());
    }
}
