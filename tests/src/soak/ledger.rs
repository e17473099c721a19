//! The soak's book of every message: who published it, whether the broker confirmed it
//! (PUBACK, or PUBCOMP for QoS 2), and how often its subscriber received it.
//!
//! A confirmed message belongs to the broker: with persistent sessions on both ends it
//! must reach its subscriber at least once (QoS 1) or exactly once (QoS 2), however often
//! either end's connection drops (MQTT-4.3.2, MQTT-4.3.3, MQTT-4.4.0-1).

use std::fmt;
use std::sync::Mutex;

use broker_core::QoS;

/// One publisher's messages, by sequence number.
#[derive(Debug)]
struct Sent {
    qos: QoS,
    entries: Vec<Entry>,
}

#[derive(Clone, Copy, Debug, Default)]
struct Entry {
    confirmed: bool,
    received: u32,
}

/// Every message of a soak run. Each publisher has its own lock, so devices rarely wait
/// for one another.
#[derive(Debug)]
pub struct Ledger {
    senders: Vec<Mutex<Sent>>,
}

/// What the ledger says at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub published: u64,
    pub confirmed: u64,
    /// Messages received at least once.
    pub received: u64,
    /// Confirmed and never received: the broker lost them.
    pub lost: u64,
    /// Published and not confirmed (yet).
    pub unconfirmed: u64,
    /// Receipts beyond the first of a QoS 1 message: allowed (at least once).
    pub qos1_duplicates: u64,
    /// Receipts beyond the first of a QoS 2 message: never allowed (exactly once).
    pub qos2_duplicates: u64,
    /// Receipts of messages nobody published: a corrupted or misrouted payload.
    pub stray: u64,
}

impl Ledger {
    /// A ledger for `publishers` publishers; publisher `i` publishes at `qos_of(i)`.
    pub fn new(publishers: usize, qos_of: impl Fn(usize) -> QoS) -> Self {
        Ledger {
            senders: (0..publishers)
                .map(|i| {
                    Mutex::new(Sent {
                        qos: qos_of(i),
                        entries: Vec::new(),
                    })
                })
                .collect(),
        }
    }

    /// `sender` published its next message; returns its sequence number.
    pub fn published(&self, sender: usize) -> u32 {
        let mut sent = self.sent(sender);
        sent.entries.push(Entry::default());
        u32::try_from(sent.entries.len() - 1).unwrap_or(u32::MAX)
    }

    /// The broker confirmed `sender`'s message `seq`.
    pub fn confirmed(&self, sender: usize, seq: u32) {
        if let Some(entry) = self.sent(sender).entries.get_mut(seq as usize) {
            entry.confirmed = true;
        }
    }

    /// A subscriber received `sender`'s message `seq`. Returns false for a message that
    /// was never published (it counts as stray).
    pub fn received(&self, sender: usize, seq: u32) -> bool {
        let Some(slot) = self.senders.get(sender) else {
            return false;
        };
        let mut sent = lock(slot);
        match sent.entries.get_mut(seq as usize) {
            Some(entry) => {
                entry.received = entry.received.saturating_add(1);
                true
            }
            None => false,
        }
    }

    /// Counts everything; `stray` is the caller's count of unknown receipts.
    pub fn tally(&self, stray: u64) -> Tally {
        let mut tally = Tally {
            stray,
            ..Tally::default()
        };
        for slot in &self.senders {
            let sent = lock(slot);
            for entry in &sent.entries {
                tally.published += 1;
                tally.confirmed += u64::from(entry.confirmed);
                tally.received += u64::from(entry.received > 0);
                tally.lost += u64::from(entry.confirmed && entry.received == 0);
                tally.unconfirmed += u64::from(!entry.confirmed);
                let extra = u64::from(entry.received.saturating_sub(1));
                match sent.qos {
                    QoS::ExactlyOnce => tally.qos2_duplicates += extra,
                    _ => tally.qos1_duplicates += extra,
                }
            }
        }
        tally
    }

    /// Up to `limit` lost messages, as (sender, sequence number), to look for in logs.
    pub fn lost(&self, limit: usize) -> Vec<(usize, u32)> {
        let mut lost = Vec::new();
        for (sender, slot) in self.senders.iter().enumerate() {
            let sent = lock(slot);
            for (seq, entry) in sent.entries.iter().enumerate() {
                if lost.len() < limit && entry.confirmed && entry.received == 0 {
                    lost.push((sender, u32::try_from(seq).unwrap_or(u32::MAX)));
                }
            }
        }
        lost
    }

    fn sent(&self, sender: usize) -> std::sync::MutexGuard<'_, Sent> {
        lock(&self.senders[sender])
    }
}

fn lock(slot: &Mutex<Sent>) -> std::sync::MutexGuard<'_, Sent> {
    // Every update is a single assignment or push: a poisoned lock is still consistent.
    slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Tally {
    /// Every published message confirmed and received, none lost, none doubled at QoS 2.
    pub fn settled(&self) -> bool {
        self.unconfirmed == 0 && self.received == self.published && self.is_clean()
    }

    /// Nothing that can never be put right: no loss, no QoS 2 duplicate, no stray.
    pub fn is_clean(&self) -> bool {
        self.lost == 0 && self.qos2_duplicates == 0 && self.stray == 0
    }
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "published={} confirmed={} received={} lost={} unconfirmed={} \
             qos1_duplicates={} qos2_duplicates={} stray={}",
            self.published,
            self.confirmed,
            self.received,
            self.lost,
            self.unconfirmed,
            self.qos1_duplicates,
            self.qos2_duplicates,
            self.stray
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ledger() -> Ledger {
        Ledger::new(2, |i| {
            if i == 0 {
                QoS::AtLeastOnce
            } else {
                QoS::ExactlyOnce
            }
        })
    }

    #[test]
    fn a_confirmed_message_never_received_is_lost() {
        let ledger = ledger();
        let seq = ledger.published(0);
        ledger.confirmed(0, seq);
        let tally = ledger.tally(0);
        assert_eq!(tally.lost, 1);
        assert!(!tally.is_clean());
        ledger.received(0, seq);
        assert!(ledger.tally(0).settled());
    }

    #[test]
    fn a_second_receipt_is_a_duplicate_that_only_qos2_forbids() {
        let ledger = ledger();
        for sender in 0..2 {
            let seq = ledger.published(sender);
            ledger.confirmed(sender, seq);
            ledger.received(sender, seq);
            ledger.received(sender, seq);
        }
        let tally = ledger.tally(0);
        assert_eq!((tally.qos1_duplicates, tally.qos2_duplicates), (1, 1));
        assert!(!tally.is_clean());
    }

    #[test]
    fn unconfirmed_and_unknown_messages_are_told_apart() {
        let ledger = ledger();
        ledger.published(1);
        assert!(!ledger.received(1, 7), "never published");
        let tally = ledger.tally(1);
        assert_eq!((tally.unconfirmed, tally.lost, tally.stray), (1, 0, 1));
        assert!(!tally.settled());
    }
}
