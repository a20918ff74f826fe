//! The exposition: every number of the last `stats` record as a metric named after its place
//! in the record (`stats.doors.lpd_jobs` is `bjnp_watch_doors_lpd_jobs_total`), so a counter
//! added to the record is exported without a line here; maps and lists become labels (alerts by
//! `rule`, drops by `type`, workers by `worker`); every metric names the `sensor`. Plus build
//! info, the process's uptime, the record's own time and the last policy reload.

use super::Shared;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use serde_json::Value;
use std::borrow::Cow;
use std::fmt;

/// Numbers of the record that go up and down; every other number only grows.
const GAUGES: &[&str] = &[
    "flow_active",
    "decoder_fragment_trains",
    "detect_scan_sources",
    "detect_printers",
    "output_in_flight",
    "workers_flows_active",
];

/// The same metrics in Prometheus's text format 0.0.4, for clients that do not ask for
/// OpenMetrics (promtool, curl): a counter's HELP and TYPE name it with its `_total`, and there
/// is no `# EOF`.
pub fn to_text_004(openmetrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len() + 64 * counters.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let meta = ["# HELP ", "# TYPE "]
            .into_iter()
            .find_map(|p| line.strip_prefix(p).map(|rest| (p, rest)));
        match meta.and_then(|(p, rest)| rest.split_once(' ').map(|(n, r)| (p, n, r))) {
            Some((p, name, rest)) if counters.contains(name) => {
                out.push_str(&format!("{p}{name}_total {rest}\n"));
            }
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

pub fn render(shared: &Shared) -> String {
    let mut registry = Registry::with_prefix_and_labels(
        "bjnp_watch",
        [(Cow::Borrowed("sensor"), Cow::Owned(shared.sensor.clone()))].into_iter(),
    );
    registry.register_collector(Box::new(Snapshot::of(shared)));
    let mut out = String::new();
    if prometheus_client::encoding::text::encode(&mut out, &registry).is_err() {
        out = "# EOF\n".into();
    }
    out
}

/// What one scrape encodes: taken under the locks once, then encoded without them.
#[derive(Debug)]
struct Snapshot {
    version: &'static str,
    uptime: f64,
    stats: Option<(f64, Value, String, u64)>,
    reload: (Option<super::LastReload>, u64, u64),
}

impl Snapshot {
    fn of(shared: &Shared) -> Self {
        Snapshot {
            version: shared.version,
            uptime: shared.started.elapsed().as_secs_f64(),
            stats: shared.snapshot().map(|s| {
                (
                    s.ts.0 as f64 / 1e9,
                    serde_json::to_value(&s.stats).unwrap_or(Value::Null),
                    s.sink.clone(),
                    s.queued,
                )
            }),
            reload: shared.reloads(),
        }
    }
}

fn gauge_f(enc: &mut DescriptorEncoder<'_>, name: &str, help: &str, v: f64) -> fmt::Result {
    let g = ConstGauge::new(v);
    g.encode(enc.encode_descriptor(name, help, None, g.metric_type())?)
}

/// One metric with one sample per label set.
fn family(
    enc: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    kind: MetricType,
    samples: &[(Vec<(&str, String)>, u64)],
) -> fmt::Result {
    let mut m = enc.encode_descriptor(name, help, None, kind)?;
    for (labels, v) in samples {
        let labels: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let e = m.encode_family(&labels)?;
        match kind {
            MetricType::Counter => ConstCounter::new(*v).encode(e)?,
            _ => ConstGauge::new(i64::try_from(*v).unwrap_or(i64::MAX)).encode(e)?,
        }
    }
    Ok(())
}

impl Collector for Snapshot {
    fn encode(&self, mut enc: DescriptorEncoder<'_>) -> fmt::Result {
        let info = ConstGauge::new(1i64);
        let mut m = enc.encode_descriptor(
            "build_info",
            "bjnp-watch's version",
            None,
            info.metric_type(),
        )?;
        info.encode(m.encode_family(&[("version", self.version)])?)?;
        gauge_f(
            &mut enc,
            "uptime_seconds",
            "seconds since the sensor started",
            self.uptime,
        )?;
        let (last, ok, failed) = self.reload;
        let reloads = [
            (vec![("result", "ok".to_owned())], ok),
            (vec![("result", "failed".to_owned())], failed),
        ];
        family(
            &mut enc,
            "policy_reloads",
            "policy reloads (SIGHUP) that took or were refused",
            MetricType::Counter,
            &reloads,
        )?;
        if let Some(r) = last {
            let t = r.ts.0 as f64 / 1e9;
            gauge_f(
                &mut enc,
                "policy_reload_timestamp_seconds",
                "when the policy was last reloaded",
                t,
            )?;
            gauge_f(
                &mut enc,
                "policy_reload_success",
                "1 when the last reload took, 0 when it was refused",
                f64::from(u8::from(r.ok)),
            )?;
        }
        let Some((ts, stats, sink, queued)) = &self.stats else {
            return Ok(());
        };
        family(
            &mut enc,
            "output_queue_depth",
            "records waiting in the output queue as the last stats record was written",
            MetricType::Gauge,
            &[(vec![("sink", sink.clone())], *queued)],
        )?;
        gauge_f(
            &mut enc,
            "stats_timestamp_seconds",
            "the time of the stats record these figures come from",
            *ts,
        )?;
        // name -> the stats record's field it comes from, and its samples
        type Samples = Vec<(Vec<(&'static str, String)>, u64)>;
        let mut metrics: Vec<(String, String, Samples)> = Vec::new();
        let mut put = |name: String, labels: Vec<(&'static str, String)>, v: u64| match metrics
            .iter_mut()
            .find(|(n, _, _)| *n == name)
        {
            Some((_, _, s)) => s.push((labels, v)),
            None => {
                let (section, field) = name.split_once('_').unwrap_or((&name, ""));
                let help = match section {
                    "stats" => format!(
                        "stats.{} of the last stats record",
                        field.replace("_seconds", "_sec")
                    ),
                    _ => format!("stats.{section}.{field} of the last stats record"),
                };
                metrics.push((name, help, vec![(labels, v)]))
            }
        };
        let Value::Object(sections) = stats else {
            return Ok(());
        };
        for (section, body) in sections {
            match body {
                Value::Number(n) => {
                    // Prometheus spells units out: uptime_sec is stats_uptime_seconds
                    let name = format!("stats_{}", section.replace("_sec", "_seconds"));
                    put(name, vec![], n.as_u64().unwrap_or(0))
                }
                Value::Object(fields) => {
                    let sink_label = |s: &str| -> Vec<(&'static str, String)> {
                        if s == "output" {
                            vec![("sink", sink.clone())]
                        } else {
                            vec![]
                        }
                    };
                    for (field, v) in fields {
                        let name = format!("{section}_{field}");
                        match v {
                            Value::Number(n) => {
                                put(name, sink_label(section), n.as_u64().unwrap_or(0))
                            }
                            // alerts by rule id, drops by event type
                            Value::Object(m) => {
                                let key = if field == "alerts_by_rule" {
                                    "rule"
                                } else {
                                    "type"
                                };
                                for (k, v) in m {
                                    let mut labels = sink_label(section);
                                    labels.push((key, k.clone()));
                                    put(name.clone(), labels, v.as_u64().unwrap_or(0));
                                }
                            }
                            _ => {}
                        }
                    }
                }
                // per worker
                Value::Array(items) => {
                    for item in items {
                        let Value::Object(fields) = item else {
                            continue;
                        };
                        let worker = fields
                            .get("worker")
                            .map(|w| w.to_string())
                            .unwrap_or_default();
                        for (field, v) in fields {
                            if let (Value::Number(n), false) = (v, field == "worker") {
                                put(
                                    format!("{section}_{field}"),
                                    vec![("worker", worker.clone())],
                                    n.as_u64().unwrap_or(0),
                                );
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        // written only when not 0 in the record; a gauge must not vanish when it falls to 0
        for name in ["output_in_flight"] {
            if !metrics.iter().any(|(n, _, _)| n == name) {
                let help = "stats.output.in_flight of the last stats record".to_owned();
                metrics.push((
                    name.to_owned(),
                    help,
                    vec![(vec![("sink", sink.clone())], 0)],
                ));
            }
        }
        for (name, help, samples) in &metrics {
            let kind = if GAUGES.contains(&name.as_str()) || name == "stats_uptime_seconds" {
                MetricType::Gauge
            } else {
                MetricType::Counter
            };
            family(&mut enc, name, help, kind, samples)?;
        }
        Ok(())
    }
}
