//! Alert budgets: how many alerts of each rule an attacker can make bjnp-watch write per window.
//! Rules that spoofed packets can trigger at will are budgeted; when a rule's budget is spent,
//! its further alerts are counted, with who caused them, and the window's `summary` record says
//! so. An answered connection to a printer (1001 established, 1003) and what a print stream
//! carries (12xx-14xx) take a real connection and are never budgeted.

use super::rules::Rule;
use super::sketch::TopK;
use crate::event::{RuleOverBudget, Summary};
use crate::net::Timestamp;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Sources listed per rule in a summary.
const LISTED: usize = 16;

#[derive(Default)]
struct RuleWindow {
    written: u32,
    over: u64,
    top: TopK<IpAddr>,
}

pub struct Budgets {
    budget: u32,
    window_ns: u64,
    start: Option<Timestamp>,
    rules: BTreeMap<Rule, RuleWindow>,
    /// Alerts held back over every window.
    pub over_budget: u64,
}

impl Budgets {
    /// A new budget and window (a policy reload), for the window running too.
    pub fn set(&mut self, budget: u32, window_ns: u64) {
        self.budget = budget;
        self.window_ns = window_ns;
    }

    pub fn new(budget: u32, window_ns: u64) -> Self {
        Budgets {
            budget,
            window_ns,
            start: None,
            rules: BTreeMap::new(),
            over_budget: 0,
        }
    }

    /// Whether one more alert of `rule`, caused by `source`, fits the current window. Call
    /// [`roll`](Self::roll) first when time may have moved on.
    pub fn admit(&mut self, rule: Rule, source: IpAddr, now: Timestamp) -> bool {
        self.start.get_or_insert(now);
        let w = self.rules.entry(rule).or_default();
        if w.written < self.budget {
            w.written += 1;
            return true;
        }
        w.over += 1;
        w.top.insert(source, 1);
        self.over_budget += 1;
        false
    }

    /// A window that ended before `now` is closed: its summary, when a budget was spent.
    pub fn roll(&mut self, now: Timestamp) -> Option<Summary> {
        let start = self.start?;
        if now.since(start) < self.window_ns {
            return None;
        }
        // The next window starts at the boundary `now` falls in, so windows stay aligned.
        let elapsed = now.since(start) / self.window_ns * self.window_ns;
        self.start = Some(Timestamp(start.0 + elapsed));
        self.close(start, Timestamp(start.0 + self.window_ns))
    }

    /// The input ended: the summary of the window in progress.
    pub fn finish(&mut self, now: Timestamp) -> Option<Summary> {
        let start = self.start.take()?;
        self.close(start, now.max(start))
    }

    fn close(&mut self, start: Timestamp, end: Timestamp) -> Option<Summary> {
        let rules = std::mem::take(&mut self.rules);
        let over: Vec<RuleOverBudget> = rules
            .into_iter()
            .filter(|(_, w)| w.over > 0)
            .map(|(rule, w)| RuleOverBudget {
                signature_id: rule.info().sid,
                signature: rule.info().name,
                budget: self.budget,
                alerts: w.over,
                top_sources: w.top.top_addresses(LISTED),
            })
            .collect();
        (!over.is_empty()).then_some(Summary {
            window_start: start,
            window_end: end,
            over_budget: over,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spent_budget_is_counted_and_summarised() {
        let sec = 1_000_000_000;
        let mut b = Budgets::new(3, 60 * sec);
        let ip = |i: u8| IpAddr::from([10, 0, 0, i]);
        let admitted = (0..10u8)
            .filter(|i| b.admit(Rule::BjnpRecon, ip(i % 2), Timestamp(u64::from(*i))))
            .count();
        assert_eq!(admitted, 3);
        assert!(
            b.admit(Rule::PortScan, ip(9), Timestamp(20)),
            "budgets are per rule"
        );
        assert!(
            b.roll(Timestamp(59 * sec)).is_none(),
            "the window is still open"
        );
        let s = b
            .roll(Timestamp(61 * sec))
            .expect("closed with a spent budget");
        assert_eq!(s.window_end, Timestamp(60 * sec));
        assert_eq!(s.over_budget.len(), 1);
        let r = &s.over_budget[0];
        assert_eq!((r.signature_id, r.alerts, r.budget), (1101, 7, 3));
        let counted: u64 = r.top_sources.iter().map(|t| t.count).sum();
        assert_eq!(counted, 7);
        // the new window has its budget back
        assert!(b.admit(Rule::BjnpRecon, ip(1), Timestamp(62 * sec)));
        assert!(
            b.finish(Timestamp(70 * sec)).is_none(),
            "nothing over budget"
        );
        assert_eq!(b.over_budget, 7);
    }
}
