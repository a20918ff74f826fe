//! A report in each format: a terminal table that reads at a glance, JSON (the documented
//! schema, docs/VERIFY.md), Markdown for a change ticket, and one self-contained HTML page with
//! a timeline per printer. Every string that came from the policy or the wire is escaped for
//! its format.

use super::verdict::{Overall, PointKind, Reachability, Report, Row, Side, Window};
use crate::event::Outcome;
use crate::net::Timestamp;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::net::IpAddr;

/// The report formats of `verify --format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Markdown,
    Html,
}

pub fn render(r: &Report, f: Format) -> String {
    match f {
        Format::Table => table(r),
        Format::Json => {
            let mut s = serde_json::to_string_pretty(r).unwrap_or_default();
            s.push('\n');
            s
        }
        Format::Markdown => markdown(r),
        Format::Html => html(r),
    }
}

fn overall_word(o: Overall) -> &'static str {
    match o {
        Overall::Pass => "PASS",
        Overall::Fail => "FAIL",
        Overall::Inconclusive => "INCONCLUSIVE",
    }
}

fn printer_label(r: &Row) -> String {
    match &r.printer_name {
        Some(n) => format!("{} ({})", printable(n, 40), r.printer),
        None => r.printer.to_string(),
    }
}

/// Policy names are the user's own, but a report may be pasted anywhere: control characters
/// become '?', and the length is bounded.
fn printable(s: &str, max: usize) -> String {
    s.chars()
        .take(max)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

fn port_label(r: &Row) -> String {
    format!("{}/{}", r.proto.name().to_ascii_lowercase(), r.port)
}

/// "open → blocked" when the change moved it, else the one verdict.
fn moved<T: PartialEq + std::fmt::Display>(before: Option<T>, after: T) -> String {
    match before {
        Some(b) if b != after => format!("{b} → {after}"),
        Some(b) => format!("{b} (unchanged)"),
        None => after.to_string(),
    }
}

fn outcomes_short(s: &super::verdict::Outcomes) -> String {
    format!(
        "{}/{}/{}/{}",
        s.attempted, s.refused, s.half_open, s.established
    )
}

fn window_line(name: &str, w: &Window) -> String {
    let t = |x: Option<Timestamp>| x.map(|t| t.rfc3339().to_string()).unwrap_or("-".into());
    format!(
        "{name}: {} .. {}, {} connection(s), {} job(s)",
        t(w.first),
        t(w.last),
        w.attempts,
        w.jobs
    )
}

fn header_lines(r: &Report) -> Vec<String> {
    let mut v = Vec::new();
    if let Some(at) = r.change_at {
        v.push(format!("change at {}", at.rfc3339()));
    }
    if let Some(b) = &r.before {
        v.push(window_line("before", b));
        v.push(window_line("after", &r.after));
    } else {
        v.push(window_line("evidence", &r.after));
    }
    v.push(format!(
        "policy {}: {} printer(s), blocked ports {:?}, allowed {}",
        printable(&r.policy.origin, 200),
        r.policy.printers.len(),
        r.policy.blocked_ports,
        if r.policy.allowed_clients.is_empty() {
            "none".to_owned()
        } else {
            r.policy.allowed_clients.join(", ")
        }
    ));
    let e = r.unanswered_outside_inventory;
    if e.attempts > 0 {
        v.push(format!(
            "{} unanswered attempt(s) to {} host(s) outside the printer inventory (not rows: nothing answered there)",
            e.attempts, e.hosts
        ));
    }
    for f in &r.folded_into_campaigns {
        v.push(format!(
            "{} failed attempt(s) on {}/{} were counted into campaigns without flow records (per printer unknown)",
            f.attempts,
            f.proto.map_or("?", |p| p.name()),
            f.port
        ));
    }
    v
}

/// The columns of the table and the Markdown: one row per printer port.
fn columns(r: &Report) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let head = vec![
        "printer",
        "port",
        "blocked",
        "reachability",
        "attempts",
        "clients",
        "att/ref/half/est",
        "service",
        "conns",
        "jobs",
        "failed",
    ];
    let rows = r
        .rows
        .iter()
        .map(|row| {
            let b = row.before.as_ref();
            vec![
                printer_label(row),
                port_label(row),
                if row.blocked_port { "yes" } else { "" }.to_owned(),
                moved(b.map(|s| s.reachability), row.reachability)
                    + if row.severity == Some(1) {
                        " (sev 1)"
                    } else {
                        ""
                    },
                row.reach.attempts.to_string(),
                row.reach.clients.to_string(),
                outcomes_short(&row.reach.outcomes),
                moved(b.map(|s: &Side| s.service), row.service),
                row.usage.connections.to_string(),
                row.usage.jobs.to_string(),
                row.usage.outcomes.failed().to_string(),
            ]
        })
        .collect();
    (head, rows)
}

fn table(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "bjnp-watch verify: {}", overall_word(r.overall));
    for reason in &r.reasons {
        let _ = writeln!(s, "  - {reason}");
    }
    s.push('\n');
    for l in header_lines(r) {
        let _ = writeln!(s, "{l}");
    }
    s.push('\n');
    let (head, rows) = columns(r);
    let mut width: Vec<usize> = head.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, c) in width.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let mut l = String::new();
        for (i, (c, w)) in cells.iter().zip(&width).enumerate() {
            if i > 0 {
                l.push_str("  ");
            }
            l.push_str(c);
            if i + 1 < cells.len() {
                l.extend(std::iter::repeat_n(' ', w - c.chars().count()));
            }
        }
        l.trim_end().to_owned() + "\n"
    };
    s.push_str(&line(head.iter().map(|h| h.to_uppercase()).collect()));
    for row in rows {
        s.push_str(&line(row));
    }
    let untested: Vec<&Row> = r
        .rows
        .iter()
        .filter(|x| x.reachability == Reachability::Untested && x.blocked_port)
        .collect();
    if !untested.is_empty() {
        s.push_str("\nto test the untested blocked ports:\n");
        for x in untested {
            if let Some(h) = &x.reach.how_to_test {
                let _ = writeln!(s, "  {} {}: {h}", printer_label(x), port_label(x));
            }
        }
    }
    s
}

/// Markdown table cells: pipes and markup characters escaped, one line.
fn md(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '|' | '\\' | '*' | '_' | '`' | '[' | ']' | '<' | '>' | '#' => {
                o.push('\\');
                o.push(c);
            }
            c if c.is_control() => o.push(' '),
            c => o.push(c),
        }
    }
    o
}

fn markdown(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "## Printer port verification: **{}**\n",
        overall_word(r.overall)
    );
    for reason in &r.reasons {
        let _ = writeln!(s, "- {}", md(reason));
    }
    s.push('\n');
    for l in header_lines(r) {
        let _ = writeln!(s, "- {}", md(&l));
    }
    s.push('\n');
    let (head, rows) = columns(r);
    let _ = writeln!(s, "| {} |", head.join(" | "));
    let _ = writeln!(s, "|{}", "---|".repeat(head.len()));
    for row in rows {
        let cells: Vec<String> = row.iter().map(|c| md(c)).collect();
        let _ = writeln!(s, "| {} |", cells.join(" | "));
    }
    s.push_str(
        "\nReachability counts attempts from clients the policy does not allow (on a blocked \
         port, from anyone); `att/ref/half/est` are attempts unanswered, refused, half open \
         (a SYN-ACK) and established. Service counts the allowed clients' connections and \
         the jobs that went through.\n",
    );
    s
}

/// HTML text and attribute values.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c if c.is_control() => o.push(' '),
            c => o.push(c),
        }
    }
    o
}

/// The timeline's series, drawn in this order (stacked upward for unallowed attempts,
/// downward for the allowed clients), with their class and colour.
const SERIES: [(PointKind, &str, &str, &str); 6] = [
    (
        PointKind::Unallowed(Outcome::Established),
        "unallowed-established",
        "#c62828",
        "not allowed: established",
    ),
    (
        PointKind::Unallowed(Outcome::HalfOpen),
        "unallowed-half-open",
        "#ef6c00",
        "not allowed: half open",
    ),
    (
        PointKind::Unallowed(Outcome::Refused),
        "unallowed-refused",
        "#1565c0",
        "not allowed: refused",
    ),
    (
        PointKind::Unallowed(Outcome::Attempted),
        "unallowed-attempted",
        "#78909c",
        "not allowed: unanswered",
    ),
    (
        PointKind::AllowedOk,
        "allowed-ok",
        "#2e7d32",
        "allowed: connected",
    ),
    (
        PointKind::AllowedFailed,
        "allowed-failed",
        "#6a1b9a",
        "allowed: failed",
    ),
];

const BINS: usize = 48;

fn timeline_svg(r: &Report, printer: IpAddr, t0: u64, t1: u64) -> String {
    let (w, h, left, mid) = (720.0_f64, 150.0_f64, 40.0_f64, 90.0_f64);
    let span = (t1.saturating_sub(t0)).max(1) as f64;
    let mut bins: BTreeMap<(usize, usize), u64> = BTreeMap::new();
    for p in r.timeline.iter().filter(|p| p.printer == printer) {
        let x = ((p.ts.0.saturating_sub(t0)) as f64 / span * BINS as f64) as usize;
        if let Some(si) = SERIES.iter().position(|s| s.0 == p.kind) {
            *bins.entry((x.min(BINS - 1), si)).or_default() += 1;
        }
    }
    let mut up = [0u64; BINS];
    let mut down = [0u64; BINS];
    for (&(b, si), &n) in &bins {
        if si < 4 {
            up[b] += n
        } else {
            down[b] += n
        }
    }
    let max_up = up.iter().copied().max().unwrap_or(0).max(1) as f64;
    let max_down = down.iter().copied().max().unwrap_or(0).max(1) as f64;
    let bw = (w - left - 10.0) / BINS as f64;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="timeline" data-printer="{p}" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="timeline of {p}">"#,
        p = esc(&printer.to_string())
    );
    let _ = write!(
        s,
        r##"<line class="axis" x1="{left}" y1="{mid}" x2="{}" y2="{mid}" stroke="#444"/>"##,
        w - 10.0
    );
    let _ = write!(
        s,
        r##"<text x="2" y="14" font-size="10" fill="#444">{}</text><text x="2" y="{}" font-size="10" fill="#444">{}</text>"##,
        max_up as u64,
        h - 4.0,
        max_down as u64
    );
    let mut stack_up = [0f64; BINS];
    let mut stack_down = [0f64; BINS];
    for (&(b, si), &n) in &bins {
        let (_, class, colour, label) = SERIES[si];
        let x = left + b as f64 * bw;
        let (y, hh) = if si < 4 {
            let hh = n as f64 / max_up * (mid - 10.0);
            stack_up[b] += hh;
            (mid - stack_up[b], hh)
        } else {
            let hh = n as f64 / max_down * (h - mid - 16.0);
            let y = mid + stack_down[b];
            stack_down[b] += hh;
            (y, hh)
        };
        let _ = write!(
            s,
            r#"<rect class="bar {class}" x="{x:.1}" y="{y:.1}" width="{:.1}" height="{hh:.1}" fill="{colour}"><title>{label}: {n}</title></rect>"#,
            (bw - 1.0).max(0.5)
        );
    }
    // The time axis: its two ends, as the time of day (the dates are in the text above).
    let clock = |t: u64| {
        Timestamp(t)
            .rfc3339()
            .as_str()
            .get(11..19)
            .unwrap_or("")
            .to_owned()
    };
    let _ = write!(
        s,
        r##"<text class="tick" x="{left}" y="{y}" font-size="10" fill="#444">{}</text><text class="tick" x="{}" y="{y}" font-size="10" fill="#444" text-anchor="end">{}</text>"##,
        clock(t0),
        w - 10.0,
        clock(t1),
        y = h - 4.0
    );
    if let Some(at) = r.change_at {
        if at.0 >= t0 && at.0 <= t1 {
            let x = left + (at.0 - t0) as f64 / span * (w - left - 10.0);
            let _ = write!(
                s,
                r##"<line class="change" x1="{x:.1}" y1="4" x2="{x:.1}" y2="{}" stroke="#000" stroke-dasharray="4 3"/><text x="{:.1}" y="12" font-size="10">change</text>"##,
                h - 4.0,
                x + 3.0
            );
        }
    }
    s.push_str("</svg>");
    s
}

fn html(r: &Report) -> String {
    let mut s = String::new();
    let (cls, word) = match r.overall {
        Overall::Pass => ("pass", "PASS"),
        Overall::Fail => ("fail", "FAIL"),
        Overall::Inconclusive => ("inconclusive", "INCONCLUSIVE"),
    };
    s.push_str(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>bjnp-watch verify</title><style>\
         body{font-family:system-ui,sans-serif;margin:2em;color:#222}\
         .verdict{display:inline-block;padding:.2em .6em;border-radius:4px;color:#fff;font-weight:bold}\
         .pass{background:#2e7d32}.fail{background:#c62828}.inconclusive{background:#ef6c00}\
         table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.25em .5em;text-align:left}\
         td.num{text-align:right}.open,.broken{color:#c62828;font-weight:bold}.untested,.unused{color:#ef6c00}\
         .blocked,.working{color:#2e7d32}\
         .legend span{display:inline-block;margin-right:1em}.legend i{display:inline-block;width:.8em;height:.8em;margin-right:.3em}\
         </style></head><body>\n",
    );
    let _ = writeln!(
        s,
        "<h1>Printer port verification <span id=\"overall\" class=\"verdict {cls}\">{word}</span></h1>"
    );
    s.push_str("<ul id=\"reasons\">");
    for reason in &r.reasons {
        let _ = write!(s, "<li>{}</li>", esc(reason));
    }
    s.push_str("</ul>\n<ul id=\"context\">");
    for l in header_lines(r) {
        let _ = write!(s, "<li>{}</li>", esc(&l));
    }
    s.push_str("</ul>\n<table id=\"rows\"><thead><tr>");
    let (head, _) = columns(r);
    for h in &head {
        let _ = write!(s, "<th>{}</th>", esc(h));
    }
    s.push_str("</tr></thead><tbody>\n");
    for row in &r.rows {
        let b = row.before.as_ref();
        let reach = moved(b.map(|x| x.reachability), row.reachability);
        let service = moved(b.map(|x| x.service), row.service);
        let _ = writeln!(
            s,
            "<tr data-printer=\"{p}\" data-port=\"{port}\" data-proto=\"{proto}\"><td>{label}</td><td>{pl}</td><td>{blk}</td>\
             <td class=\"{rc}\">{reach}{sev}</td><td class=\"num\">{att}</td><td class=\"num\">{cl}</td><td>{oc}</td>\
             <td class=\"{sc}\">{service}</td><td class=\"num\">{conns}</td><td class=\"num\">{jobs}</td><td class=\"num\">{failed}</td></tr>",
            p = esc(&row.printer.to_string()),
            port = row.port,
            proto = row.proto.name(),
            label = esc(&printer_label(row)),
            pl = esc(&port_label(row)),
            blk = if row.blocked_port { "yes" } else { "" },
            rc = row.reachability.name(),
            reach = esc(&reach),
            sev = if row.severity == Some(1) { " (severity 1)" } else { "" },
            att = row.reach.attempts,
            cl = row.reach.clients,
            oc = esc(&outcomes_short(&row.reach.outcomes)),
            sc = row.service.name(),
            service = esc(&service),
            conns = row.usage.connections,
            jobs = row.usage.jobs,
            failed = row.usage.outcomes.failed(),
        );
    }
    s.push_str("</tbody></table>\n");
    // One time axis for every printer, so their charts line up.
    let t0 = r.timeline.first().map_or(0, |p| p.ts.0);
    let t1 = r.timeline.last().map_or(0, |p| p.ts.0);
    let t0 = r.change_at.map_or(t0, |c| t0.min(c.0));
    let t1 = r.change_at.map_or(t1, |c| t1.max(c.0));
    s.push_str("<h2>Timeline</h2><p class=\"legend\">");
    for (_, class, colour, label) in SERIES {
        let _ = write!(
            s,
            "<span class=\"{class}\"><i style=\"background:{colour}\"></i>{}</span>",
            esc(label)
        );
    }
    let _ = writeln!(
        s,
        "</p><p>Attempts from clients the policy does not allow stack above the line, the allowed \
         clients' connections below it; {} to {}, {BINS} bins.</p>",
        Timestamp(t0).rfc3339(),
        Timestamp(t1).rfc3339()
    );
    let mut printers: Vec<IpAddr> = r.rows.iter().map(|x| x.printer).collect();
    printers.dedup();
    for p in printers {
        let name = r
            .rows
            .iter()
            .find(|x| x.printer == p)
            .map(printer_label)
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "<section class=\"printer\"><h3>{}</h3>{}</section>",
            esc(&name),
            timeline_svg(r, p, t0, t1)
        );
    }
    s.push_str(
        "<h2>Details</h2><details><summary>untested ports and how to test them</summary><ul>",
    );
    if !r
        .rows
        .iter()
        .any(|x| x.reachability == Reachability::Untested)
    {
        s.push_str("<li>none: every port was tried</li>");
    }
    for row in r
        .rows
        .iter()
        .filter(|x| x.reachability == Reachability::Untested)
    {
        if let Some(h) = &row.reach.how_to_test {
            let _ = write!(
                s,
                "<li>{} {}: {}</li>",
                esc(&printer_label(row)),
                esc(&port_label(row)),
                esc(h)
            );
        }
    }
    s.push_str("</ul></details>\n<script type=\"application/json\" id=\"report\">");
    // The JSON report rides along for tools; `</` cannot end the script element early.
    let json = serde_json::to_string(r)
        .unwrap_or_default()
        .replace("</", "<\\/");
    s.push_str(&json);
    s.push_str("</script>\n</body></html>\n");
    s
}
