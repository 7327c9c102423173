//! DNS queries waiting for their response.
//!
//! A query is held (kept in a slot) until the response with
//! the same client address and port, server address and port, transport,
//! transaction id and question arrives; then both make one event. A
//! query leaves without answers when it is older than the window in
//! capture time, when the table is full (the oldest goes), when the same
//! query is sent again (the first goes), or at the end of the capture.
//!
//! A slot keeps what the event needs (name, type, time, packet number;
//! the addresses are in the key), copied in and out: no buffer of the
//! caller's (whose URL or Host may have grown to a segment's size) ever
//! moves into the table, so a full table weighs at most its count times
//! the longest DNS name as escaped (about 1 KB). Slots are reused: once
//! warm, holding and answering allocate nothing.

use std::collections::VecDeque;
use std::net::IpAddr;

use ahash::AHashMap;

use crate::{Event, EventKind};

/// Identifies a lookup on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) struct Key {
    pub client: IpAddr,
    pub server: IpAddr,
    pub client_port: u16,
    pub server_port: u16,
    pub id: u16,
    pub tcp: bool,
}

struct Slot {
    name: String,
    qtype: u16,
    time: Option<i64>,
    /// The query's packet number.
    packet: u64,
    key: Key,
    /// Bumped when the slot leaves the table, so that stale entries of
    /// `order` are known.
    generation: u32,
    held: bool,
}

/// The pending queries of one capture.
pub(super) struct Lookups {
    map: AHashMap<Key, u32>,
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// Slots in the order their queries came (with their generation);
    /// entries of slots answered since are skipped when met.
    order: VecDeque<(u32, u32)>,
    /// Queries that left the table unanswered, to be returned.
    ready: VecDeque<u32>,
    capacity: usize,
    window: i64,
}

impl Lookups {
    /// A table of at most `capacity` queries, each held at most `window`
    /// microseconds of capture time.
    pub(super) fn new(capacity: usize, window: i64) -> Lookups {
        Lookups {
            map: AHashMap::default(),
            slots: Vec::new(),
            free: Vec::new(),
            order: VecDeque::new(),
            ready: VecDeque::new(),
            capacity: capacity.max(1),
            window,
        }
    }

    /// Holds the query in `ev` (its name, type and time), packet number
    /// `packet`.
    pub(super) fn hold(&mut self, key: Key, ev: &Event, packet: u64) {
        if let Some(&old) = self.map.get(&key) {
            // Sent again (a retry, or the id reused): the first goes out
            // unanswered.
            self.release(old);
        }
        while self.map.len() >= self.capacity {
            let Some((slot, generation)) = self.order.pop_front() else {
                break;
            };
            if self.live(slot, generation) {
                self.release(slot);
            }
        }
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.slots.push(Slot {
                    name: String::new(),
                    qtype: 0,
                    time: None,
                    packet: 0,
                    key,
                    generation: 0,
                    held: false,
                });
                (self.slots.len() - 1) as u32
            }
        };
        let s = &mut self.slots[slot as usize];
        s.name.clear();
        s.name.push_str(&ev.name);
        s.qtype = ev.qtype;
        s.time = ev.time;
        s.packet = packet;
        s.key = key;
        s.held = true;
        let generation = s.generation;
        self.map.insert(key, slot);
        self.order.push_back((slot, generation));
        // Answered queries leave their entries behind: drop them once
        // they outnumber the held ones, so `order` stays bounded.
        if self.order.len() > 2 * self.capacity + 64 {
            let slots = &self.slots;
            self.order.retain(|&(s, g)| {
                let sl = &slots[s as usize];
                sl.held && sl.generation == g
            });
        }
    }

    /// The query answered by a response with `key`, question `name` and
    /// `qtype`: its time and packet number; it leaves the table.
    pub(super) fn answer(
        &mut self,
        key: &Key,
        name: &str,
        qtype: u16,
    ) -> Option<(Option<i64>, u64)> {
        let &slot = self.map.get(key)?;
        let s = &mut self.slots[slot as usize];
        if s.qtype != qtype || !s.name.eq_ignore_ascii_case(name) {
            return None;
        }
        let found = (s.time, s.packet);
        self.map.remove(key);
        s.held = false;
        s.generation = s.generation.wrapping_add(1);
        self.free.push(slot);
        Some(found)
    }

    /// Sends out every query older than the window before `now`.
    pub(super) fn expire(&mut self, now: i64) {
        let limit = now.saturating_sub(self.window);
        while let Some(&(slot, generation)) = self.order.front() {
            if !self.live(slot, generation) {
                self.order.pop_front();
                continue;
            }
            match self.slots[slot as usize].time {
                Some(t) if t < limit => {
                    self.order.pop_front();
                    self.release(slot);
                }
                // Not old yet (or without a time stamp: only the table's
                // size or the end sends it out).
                _ => break,
            }
        }
    }

    /// Sends out every held query, oldest first (the end of the capture).
    pub(super) fn flush(&mut self) {
        while let Some((slot, generation)) = self.order.pop_front() {
            if self.live(slot, generation) {
                self.release(slot);
            }
        }
    }

    /// The next query sent out unanswered, into `ev` (cleared first): its
    /// packet number.
    pub(super) fn pop(&mut self, ev: &mut Event) -> Option<u64> {
        let slot = self.ready.pop_front()?;
        let s = &self.slots[slot as usize];
        ev.clear();
        ev.kind = EventKind::Dns;
        ev.time = s.time;
        ev.client = Some(s.key.client);
        ev.server = Some(s.key.server);
        ev.server_port = Some(s.key.server_port);
        ev.name.push_str(&s.name);
        ev.qtype = s.qtype;
        self.free.push(slot);
        Some(s.packet)
    }

    fn live(&self, slot: u32, generation: u32) -> bool {
        let s = &self.slots[slot as usize];
        s.held && s.generation == generation
    }

    /// Takes a held slot out of the table into the ready queue.
    fn release(&mut self, slot: u32) {
        let s = &mut self.slots[slot as usize];
        if !s.held {
            return;
        }
        self.map.remove(&s.key);
        s.held = false;
        s.generation = s.generation.wrapping_add(1);
        self.ready.push_back(slot);
    }

    /// Queries held (for tests).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: u16) -> Key {
        Key {
            client: "10.0.0.1".parse().unwrap(),
            server: "10.0.0.53".parse().unwrap(),
            client_port: 40000,
            server_port: 53,
            id,
            tcp: false,
        }
    }

    fn query(name: &str, time: i64) -> Event {
        Event {
            name: name.into(),
            qtype: 1,
            time: Some(time),
            ..Event::default()
        }
    }

    fn drain(l: &mut Lookups) -> Vec<(u64, String)> {
        let mut out = Vec::new();
        let mut ev = Event::default();
        while let Some(p) = l.pop(&mut ev) {
            out.push((p, ev.name.clone()));
        }
        out
    }

    #[test]
    fn answer_needs_the_same_question() {
        let mut l = Lookups::new(8, 30_000_000);
        l.hold(key(1), &query("a.example", 5), 1);
        assert_eq!(l.answer(&key(1), "b.example", 1), None);
        assert_eq!(l.answer(&key(1), "a.example", 28), None);
        assert_eq!(l.answer(&key(2), "a.example", 1), None);
        assert_eq!(l.answer(&key(1), "A.EXAMPLE", 1), Some((Some(5), 1)));
        // Answered once only.
        assert_eq!(l.answer(&key(1), "a.example", 1), None);
        l.flush();
        assert!(drain(&mut l).is_empty());
    }

    #[test]
    fn a_query_sent_out_is_a_whole_event() {
        let mut l = Lookups::new(8, 30_000_000);
        let mut q = query("a.example", 7);
        q.qtype = 28;
        l.hold(key(1), &q, 3);
        l.flush();
        let mut ev = Event {
            url: "http://stale.example/".into(),
            ..Event::default()
        };
        assert_eq!(l.pop(&mut ev), Some(3));
        let k = key(1);
        let want = Event {
            kind: EventKind::Dns,
            time: Some(7),
            client: Some(k.client),
            server: Some(k.server),
            server_port: Some(53),
            name: "a.example".into(),
            qtype: 28,
            ..Event::default()
        };
        assert_eq!(ev, want);
    }

    #[test]
    fn full_table_old_queries_retries_and_the_end() {
        let mut l = Lookups::new(2, 30_000_000);
        for (i, name) in ["one", "two", "three"].iter().enumerate() {
            l.hold(key(i as u16), &query(name, 0), i as u64 + 1);
        }
        // Full: the oldest went out.
        assert_eq!(drain(&mut l), vec![(1, "one".into())]);
        assert_eq!(l.len(), 2);
        // Sent again: the first copy goes out.
        l.hold(key(1), &query("two", 1), 4);
        assert_eq!(drain(&mut l), vec![(2, "two".into())]);
        // 31 s later, both are too old.
        l.expire(31_000_000);
        assert_eq!(drain(&mut l), vec![(3, "three".into()), (4, "two".into())]);
        l.hold(key(9), &query("nine", 40_000_000), 5);
        l.expire(41_000_000);
        assert!(drain(&mut l).is_empty());
        l.flush();
        assert_eq!(drain(&mut l), vec![(5, "nine".into())]);
        assert_eq!(l.len(), 0);
    }

    #[test]
    fn order_stays_bounded_when_everything_is_answered() {
        let mut l = Lookups::new(4, 30_000_000);
        for i in 0..10_000u16 {
            l.hold(key(i), &query("x", 0), u64::from(i));
            assert!(l.answer(&key(i), "x", 1).is_some());
        }
        assert!(l.order.len() <= 2 * 4 + 64 + 1);
        assert!(l.slots.len() <= 2);
    }
}
