//! D8: AWS IoT "does not guarantee the order in which messages and ACK are received"
//! (docs/aws-iot-profile.md). With `aws.reorder_probability` above zero, each packet for
//! a connection may be held back for a seeded time of 1 to `aws.reorder_max_delay_ms`
//! milliseconds on the broker's clock, released by a timer; packets sent in the meantime
//! overtake it. The same inputs at the same times hold the same packets for the same
//! times, so a run still replays byte for byte, and a close sends every held packet
//! before the connection ends: reordering never loses anything.

use std::collections::VecDeque;

use bytes::Bytes;

use super::timers::Timer;
use super::Broker;
use crate::codec::Packet;
use crate::rule::Rule;
use crate::time::Instant;
use crate::types::ConnId;

/// The most packets held for one connection at once. Past it, packets go out at once,
/// so a connection's held bytes stay bounded whatever the load.
const MAX_HELD: usize = 32;

/// The packets D8 holds for one connection.
#[derive(Debug, Default)]
pub(super) struct Held {
    packets: VecDeque<HeldPacket>,
}

#[derive(Debug)]
struct HeldPacket {
    held_at: Instant,
    release_at: Instant,
    bytes: Bytes,
    packet: Packet,
    droppable: bool,
    /// Packets sent to the connection since this one was held.
    overtaken_by: u32,
}

impl Held {
    fn next_release(&self) -> Option<Instant> {
        self.packets.iter().map(|h| h.release_at).min()
    }

    /// Notes that a packet went out past every packet still held.
    fn overtake_all(&mut self) {
        for h in &mut self.packets {
            h.overtaken_by += 1;
        }
    }
}

impl Broker {
    /// Queues encoded bytes (possibly shared between subscribers) for `conn`, unless D8
    /// holds them back. CONNACK is never held: it must be the first packet the client
    /// receives (MQTT-3.2.0-1), and nothing sent before it could overtake it anyway.
    pub(super) fn transmit(
        &mut self,
        now: Instant,
        conn: ConnId,
        bytes: Bytes,
        packet: &Packet,
        droppable: bool,
    ) {
        let (p, max_delay) = self.aws().map_or((0.0, 0), |r| {
            (r.reorder_probability, r.reorder_max_delay_ms)
        });
        if p > 0.0 && max_delay > 0 && !matches!(packet, Packet::ConnAck(_)) {
            if let Some(c) = self.conns.get_mut(&conn) {
                let held = &mut c.deferred.get_or_insert_with(Box::default).held;
                if held.packets.len() < MAX_HELD && self.rng.chance(p) {
                    let delay = 1 + self.rng.next_u64() % max_delay;
                    let release_at = now + core::time::Duration::from_millis(delay);
                    held.packets.push_back(HeldPacket {
                        held_at: now,
                        release_at,
                        bytes,
                        packet: packet.clone(),
                        droppable,
                        overtaken_by: 0,
                    });
                    let next = held.next_release().unwrap_or(release_at);
                    self.timers.set(Timer::Reorder(conn), next);
                    return;
                }
                held.overtake_all();
            }
        }
        self.push_transmit(now, conn, bytes, packet, droppable);
    }

    /// The reorder timer fired: sends every held packet that is due, earliest release
    /// first, and re-arms the timer for the rest.
    pub(super) fn release_held(&mut self, now: Instant, conn: ConnId) {
        loop {
            let deferred = self.conns.get_mut(&conn).and_then(|c| c.deferred.as_mut());
            let Some(held) = deferred.map(|d| &mut d.held) else {
                return;
            };
            let due = held
                .packets
                .iter()
                .enumerate()
                .filter(|(_, h)| h.release_at <= now)
                .min_by_key(|(_, h)| h.release_at)
                .map(|(i, _)| i);
            let Some(index) = due else {
                match held.next_release() {
                    Some(next) => self.timers.set(Timer::Reorder(conn), next),
                    None => self.timers.stop(Timer::Reorder(conn)),
                }
                return;
            };
            // Packets held before this one and still waiting are overtaken by it.
            for earlier in held.packets.iter_mut().take(index) {
                earlier.overtaken_by += 1;
            }
            if let Some(h) = held.packets.remove(index) {
                self.send_held(now, conn, h);
            }
        }
    }

    /// Sends everything held for `conn`, in the order it was held: the connection is
    /// closing, and nothing may be lost to reordering.
    pub(super) fn flush_held(&mut self, now: Instant, conn: ConnId) {
        let deferred = self.conns.get_mut(&conn).and_then(|c| c.deferred.as_mut());
        let Some(held) = deferred.map(|d| std::mem::take(&mut d.held)) else {
            return;
        };
        self.timers.stop(Timer::Reorder(conn));
        for h in held.packets {
            self.send_held(now, conn, h);
        }
    }

    fn send_held(&mut self, now: Instant, conn: ConnId, h: HeldPacket) {
        if h.overtaken_by > 0 {
            let waited = now.saturating_since(h.held_at).as_millis();
            let detail = format!(
                "{} held {waited} ms; {} later packet(s) overtook it",
                h.packet.packet_type().name(),
                h.overtaken_by
            );
            self.fire(Rule::D8Reorder, Some(conn), detail);
        }
        self.push_transmit(now, conn, h.bytes, &h.packet, h.droppable);
    }
}
