//! The bounded queue of bytes the owner loop hands to one connection's task.
//!
//! The owner loop must never wait for a socket: one slow client would stall every other.
//! So it pushes without waiting, and the queue is bounded in bytes instead
//! (`--max-outgoing-bytes`, the limit below):
//!
//! - Past half the limit the connection is *congested*: the owner tells the broker
//!   (`handle_congestion`), which then drops the client's QoS 0 messages and keeps its QoS 1
//!   and 2 messages in the session's bounded queue, so the outbox stops growing.
//! - Once a write has brought the queue under a quarter of the limit, it is *relieved*, and
//!   the broker sends what waited. The gap between the two marks keeps a client that reads
//!   at about the publishing rate from flapping between the states.
//! - A QoS 0 PUBLISH that would take the queue past the limit is dropped. Other packets may
//!   take it up to twice the limit: one input can make the broker produce several packets
//!   before the owner, pushing the first, tells it of the congestion (a read holding a large
//!   QoS 0 PUBLISH and then a QoS 1 one). Should the queue still reach twice the limit
//!   (packets the broker sends regardless, such as acknowledgements), the connection is
//!   closed: memory stays bounded in every case.
//!
//! The connection task takes everything queued at once and writes it as one batch, which is
//! what makes many small MQTT packets cheap to send.
//!
//! A mutex-guarded `Vec` and the waiting task's waker cost nothing until used, unlike a
//! channel, which allocates a block of slots up front for each of thousands of idle
//! connections.

use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;

#[derive(Debug)]
pub struct Outbox {
    state: Mutex<State>,
    limit: usize,
}

#[derive(Debug, Default)]
struct State {
    packets: Vec<Bytes>,
    bytes: usize,
    end: Option<End>,
    /// Past the high-water mark, and not yet relieved.
    congested: bool,
    /// The broker asked not to read from the connection for now (backpressure).
    reading_paused: bool,
    /// The connection task, when it waits for something to do.
    waiting: Option<Waker>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    /// Send what is queued, then close.
    AfterFlush,
    /// Close now, dropping what is queued.
    Now,
}

/// What a connection task is to do next.
#[derive(Debug)]
pub enum Batch {
    /// Write these packets, in order.
    Write(Vec<Bytes>),
    /// Write these packets, then close the connection.
    WriteAndClose(Vec<Bytes>),
    /// Close the connection without writing anything more.
    Abort,
}

/// What pushing a packet did.
#[derive(Debug, PartialEq, Eq)]
pub enum Pushed {
    Queued,
    /// Queued, and the queue just went past the high-water mark.
    Congested,
    /// Not queued: a QoS 0 PUBLISH for a congested connection.
    Dropped,
}

/// The queue already held `limit` bytes; the connection must be dropped.
#[derive(Debug)]
pub struct Overflow;

impl Outbox {
    pub fn new(limit: usize) -> Self {
        Outbox {
            state: Mutex::new(State::default()),
            limit,
        }
    }

    /// Queues one packet. One packet is always accepted into an empty queue, so a packet
    /// larger than the limit still goes out to a client that keeps up. `droppable` is the
    /// broker's word that the packet may be lost (a QoS 0 PUBLISH).
    pub fn push(&self, packet: Bytes, droppable: bool) -> Result<Pushed, Overflow> {
        let mut state = self.lock();
        if state.end.is_some() {
            return Ok(Pushed::Queued); // Closing: the packet could not be sent anyway.
        }
        // The broker stops sending QoS 0 messages once told of congestion, but one input
        // (a read holding many PUBLISH packets) may have produced more before it was told.
        // Those are dropped here, as the broker would have: at most once allows it.
        if state.congested && droppable {
            return Ok(Pushed::Dropped);
        }
        let after = state.bytes + packet.len();
        if !state.packets.is_empty() && after > self.limit {
            // A QoS 0 message that does not fit is lost, as at most once allows; only
            // what the broker must deliver closes a client that reads too slowly, and only
            // past the headroom for what it produced before it heard of the congestion.
            if droppable {
                return Ok(Pushed::Dropped);
            }
            if after > 2 * self.limit {
                return Err(Overflow);
            }
        }
        state.bytes += packet.len();
        state.packets.push(packet);
        let pushed = if !state.congested && state.bytes > self.limit / 2 {
            state.congested = true;
            Pushed::Congested
        } else {
            Pushed::Queued
        };
        wake(state);
        Ok(pushed)
    }

    /// Called after each write: true, once, when a congested queue has fallen under the
    /// low-water mark.
    pub fn relieved(&self) -> bool {
        let mut state = self.lock();
        if state.congested && state.bytes < self.limit / 4 {
            state.congested = false;
            return true;
        }
        false
    }

    /// Asks the connection task to stop reading from its peer (the broker holds this
    /// publisher's acknowledgements until its subscribers catch up), or to read again.
    /// Writing goes on either way.
    pub fn pause_reading(&self, paused: bool) {
        let mut state = self.lock();
        state.reading_paused = paused;
        wake(state);
    }

    /// Whether the connection task may read from its peer now.
    pub fn may_read(&self) -> bool {
        !self.lock().reading_paused
    }

    /// Asks the connection task to send what is queued and then close.
    pub fn close(&self) {
        self.end(End::AfterFlush);
    }

    /// Asks the connection task to close at once.
    pub fn abort(&self) {
        self.end(End::Now);
    }

    fn end(&self, end: End) {
        let mut state = self.lock();
        // An abort overrides a pending graceful close, never the other way round.
        if state.end != Some(End::Now) {
            state.end = Some(end);
        }
        wake(state);
    }

    /// What the connection task is to do next, or `Pending` (and a wake-up when there is
    /// something) if nothing is queued.
    pub fn poll_batch(&self, cx: &mut Context<'_>) -> Poll<Batch> {
        let mut state = self.lock();
        if let Some(batch) = take(&mut state) {
            return Poll::Ready(batch);
        }
        match &state.waiting {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            _ => state.waiting = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the queue inconsistent (every
        // update is a single assignment or push), so a poisoned lock is still usable.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Wakes the connection task, after letting go of the lock it will take.
fn wake(mut state: MutexGuard<'_, State>) {
    let waiting = state.waiting.take();
    drop(state);
    if let Some(waker) = waiting {
        waker.wake();
    }
}

fn take(state: &mut State) -> Option<Batch> {
    match state.end {
        Some(End::Now) => return Some(Batch::Abort),
        Some(End::AfterFlush) => {
            state.bytes = 0;
            return Some(Batch::WriteAndClose(std::mem::take(&mut state.packets)));
        }
        None if state.packets.is_empty() => return None,
        None => {}
    }
    state.bytes = 0;
    Some(Batch::Write(std::mem::take(&mut state.packets)))
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;

    use super::*;

    async fn next_batch(outbox: &Outbox) -> Batch {
        poll_fn(|cx| outbox.poll_batch(cx)).await
    }

    fn packet(len: usize) -> Bytes {
        Bytes::from(vec![0; len])
    }

    #[tokio::test]
    async fn everything_queued_comes_out_as_one_batch() {
        let outbox = Outbox::new(100);
        outbox.push(packet(10), false).expect("room");
        outbox.push(packet(20), false).expect("room");
        match next_batch(&outbox).await {
            Batch::Write(packets) => assert_eq!(packets.len(), 2),
            other => panic!("expected a write, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn congestion_starts_past_half_and_ends_under_a_quarter() {
        let outbox = Outbox::new(100);
        assert_eq!(
            outbox.push(packet(50), false).expect("room"),
            Pushed::Queued
        );
        assert_eq!(
            outbox.push(packet(1), false).expect("room"),
            Pushed::Congested
        );
        assert_eq!(outbox.push(packet(1), false).expect("room"), Pushed::Queued);
        assert!(!outbox.relieved(), "52 bytes still wait");
        next_batch(&outbox).await;
        assert!(outbox.relieved());
        assert!(!outbox.relieved(), "relief is reported once");
    }

    #[test]
    fn overflow_is_refused_but_one_large_packet_is_not() {
        let outbox = Outbox::new(100);
        outbox
            .push(packet(150), false)
            .expect("an empty queue takes one packet");
        assert!(
            outbox.push(packet(51), false).is_err(),
            "past twice the limit"
        );
    }

    #[test]
    fn a_packet_produced_before_the_broker_heard_of_congestion_fits_the_headroom() {
        let outbox = Outbox::new(100);
        // A large QoS 0 PUBLISH congests the queue; a QoS 1 PUBLISH from the same input
        // follows before the broker knows.
        assert_eq!(
            outbox.push(packet(90), true).expect("room"),
            Pushed::Congested
        );
        assert_eq!(
            outbox.push(packet(30), false).expect("headroom"),
            Pushed::Queued
        );
        assert_eq!(outbox.lock().bytes, 120);
    }

    #[test]
    fn a_congested_queue_drops_what_the_broker_calls_droppable_and_keeps_the_rest() {
        let outbox = Outbox::new(100);
        assert_eq!(
            outbox.push(packet(60), true).expect("room"),
            Pushed::Congested
        );
        assert_eq!(
            outbox.push(packet(10), true).expect("no error"),
            Pushed::Dropped
        );
        assert_eq!(outbox.push(packet(2), false).expect("room"), Pushed::Queued);
        assert_eq!(outbox.lock().bytes, 62);
    }

    #[test]
    fn a_droppable_packet_that_does_not_fit_is_dropped_not_an_overflow() {
        let outbox = Outbox::new(100);
        outbox.push(packet(20), false).expect("room");
        // Not congested (20 bytes is under half), yet 90 more would pass the limit.
        assert_eq!(
            outbox.push(packet(90), true).expect("no error"),
            Pushed::Dropped
        );
        assert!(outbox.push(packet(190), false).is_err());
        assert_eq!(outbox.lock().bytes, 20);
    }

    #[tokio::test]
    async fn close_flushes_first_and_abort_wins() {
        let outbox = Outbox::new(100);
        outbox.push(packet(10), false).expect("room");
        outbox.close();
        assert!(matches!(next_batch(&outbox).await, Batch::WriteAndClose(p) if p.len() == 1));
        outbox.abort();
        outbox.close();
        assert!(matches!(next_batch(&outbox).await, Batch::Abort));
    }
}
