//! The identity answers printers repeat, turned into record fields once each. A printer
//! answers every get-identity with the same bytes, and a recon flood asks thousands of times:
//! each answer's device ID was searched for its keys and copied into seven strings, which the
//! campaign then folded away. Here an answer whose bytes were seen recently shares the fields
//! already made (`Arc`), and only new bytes are parsed.
//!
//! A fixed number of slots, each holding the last answer whose bytes hash to it: memory is
//! bounded however many printers (or forged answers) there are, and a replaced slot costs
//! only the parse the memo would have saved. Nothing depends on what the memo holds: a hit
//! gives the fields a parse of the same bytes gives (tested).

use crate::event::{self, text};
use crate::proto::bjnp::{DeviceId, Magic};
use std::hash::BuildHasher;
use std::sync::Arc;

/// Slots: more than the printers a site has answering one recon sweep at a time.
const SLOTS: usize = 64;
/// Answers longer than this are parsed each time (a real one is a few hundred bytes).
const MAX_KEY: usize = 1024;

/// A get-identity answer's device ID as record fields, every string capped.
pub fn device_id(magic: Magic, payload: &[u8]) -> Option<event::DeviceId> {
    let id = DeviceId::parse(magic, payload).ok()?;
    let f = |v: Option<&[u8]>| v.map(|v| text::capped(v, text::MAX_FIELD));
    let k = id.known();
    Some(event::DeviceId {
        raw: text::capped(id.raw, text::MAX_RAW),
        mfg: f(k.mfg),
        mdl: f(k.mdl),
        des: f(k.des),
        ver: f(k.ver),
        cmd: f(k.cmd),
        cls: f(k.cls),
    })
}

struct Slot {
    magic: Magic,
    bytes: Box<[u8]>,
    fields: Arc<event::DeviceId>,
}

#[derive(Default)]
pub struct IdentityMemo {
    slots: Vec<Option<Slot>>,
    // answers come off the wire: seeded per process, like every other hashed table
    hasher: hashbrown::DefaultHashBuilder,
}

impl IdentityMemo {
    /// The record fields of a get-identity answer's payload (`None`: not a device ID).
    pub fn fields(&mut self, magic: Magic, payload: &[u8]) -> Option<Arc<event::DeviceId>> {
        if payload.len() > MAX_KEY {
            return device_id(magic, payload).map(Arc::new);
        }
        if self.slots.is_empty() {
            self.slots.resize_with(SLOTS, || None);
        }
        let at = (self.hasher.hash_one(payload) % SLOTS as u64) as usize;
        if let Some(s) = &self.slots[at] {
            if s.magic == magic && *s.bytes == *payload {
                return Some(Arc::clone(&s.fields));
            }
        }
        let fields = Arc::new(device_id(magic, payload)?);
        self.slots[at] = Some(Slot {
            magic,
            bytes: payload.into(),
            fields: Arc::clone(&fields),
        });
        Some(fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(model: &str) -> Vec<u8> {
        let id = format!("MFG:Canon;MDL:{model};CMD:BJL,BJRaster3;VER:1.050;");
        let mut p = ((id.len() + 2) as u16).to_be_bytes().to_vec();
        p.extend_from_slice(id.as_bytes());
        p
    }

    #[test]
    fn a_repeated_answer_shares_the_fields_a_parse_gives() {
        let mut memo = IdentityMemo::default();
        let a = answer("MG5500 series");
        let first = memo.fields(Magic::BJNP, &a).expect("a device id");
        let again = memo.fields(Magic::BJNP, &a).expect("a device id");
        assert!(
            Arc::ptr_eq(&first, &again),
            "the second answer is not parsed again"
        );
        assert_eq!(*again, device_id(Magic::BJNP, &a).unwrap());
        assert_eq!(again.mdl.as_deref(), Some("MG5500 series"));
        // other bytes, and the same bytes under the other magic, are parsed for themselves
        let b = answer("TS8300 series");
        assert_eq!(
            memo.fields(Magic::BJNP, &b).unwrap().mdl.as_deref(),
            Some("TS8300 series")
        );
        assert_eq!(
            memo.fields(Magic::MFNP, &a).map(|f| (*f).clone()),
            device_id(Magic::MFNP, &a)
        );
        assert_eq!(memo.fields(Magic::BJNP, b"\x00"), None);
    }

    #[test]
    fn many_printers_keep_the_memo_small_and_right() {
        let mut memo = IdentityMemo::default();
        for round in 0..3 {
            for i in 0..500 {
                let a = answer(&format!("model {i}"));
                let f = memo.fields(Magic::BJNP, &a).unwrap();
                assert_eq!(*f, device_id(Magic::BJNP, &a).unwrap(), "round {round}");
            }
        }
        assert_eq!(memo.slots.len(), SLOTS);
        let long = answer(&"x".repeat(2 * MAX_KEY));
        assert_eq!(
            memo.fields(Magic::BJNP, &long).map(|f| (*f).clone()),
            device_id(Magic::BJNP, &long)
        );
    }
}
