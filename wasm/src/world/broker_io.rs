//! Draining the broker (the core's drain contract): bytes go onto links, closes travel
//! to the devices, and events become trace entries.

use broker_core::recording::Note;
use broker_core::{ConnId, Event, Output};

use super::World;
use crate::network::Delivery;
use crate::trace::{from_note, Direction, TraceEntry};

impl World {
    /// Polls the broker until it has nothing more to say. Called after every input.
    pub(super) fn drain_broker(&mut self) {
        // Any input may have changed the broker's tables, even one that made no output
        // (a PUBACK completing a delivery).
        self.broker_changed = true;
        let arrives_at = self.arrival();
        let mut resumed = Vec::new();
        while let Some(output) = self.broker.poll_output() {
            match output {
                Output::Transmit { conn, bytes, .. } => {
                    // Every connection the broker knows was opened by a device's Connect.
                    let Some(device) = self.network.device_of(conn) else {
                        continue;
                    };
                    let client_id = self
                        .devices
                        .get(device as usize)
                        .map(|d| d.spec.client_id.clone())
                        .unwrap_or_default();
                    let packet = self.trace_packet(
                        device,
                        client_id,
                        Direction::ToDevice,
                        arrives_at,
                        &bytes,
                    );
                    self.network.send(
                        arrives_at,
                        Delivery::ToDevice {
                            device,
                            conn,
                            packet,
                            bytes,
                        },
                    );
                }
                Output::Close { conn, .. } => {
                    if let Some(device) = self.network.device_of(conn) {
                        self.network
                            .send(arrives_at, Delivery::ClosedByBroker { device, conn });
                    }
                }
                Output::Event(event) => self.record(*event),
                Output::PauseReading { conn } => {
                    self.paused.entry(conn).or_default();
                    self.record_pause(conn, true);
                }
                Output::ResumeReading { conn } => resumed.push(conn),
            }
        }
        // Bytes that arrived for a paused connection waited; they reach the broker now,
        // in order, as a shell's socket would hand them over once read again.
        for conn in resumed {
            self.record_pause(conn, false);
            for bytes in self.paused.remove(&conn).unwrap_or_default() {
                self.broker.handle_bytes(self.now, conn, &bytes);
                self.drain_broker();
            }
        }
    }

    fn record_pause(&mut self, conn: broker_core::ConnId, paused: bool) {
        let at = self.now.as_millis();
        let device = self.network.device_of(conn);
        self.trace
            .push(TraceEntry::ReadingPaused { at, device, paused });
    }

    /// Turns a broker event into a trace entry, through the note a recording would keep
    /// of it. Packet and delivery events are switched off (the world traces packets
    /// itself); timer and acknowledgement notes are left out because the packets they
    /// cause already show on the diagram.
    fn record(&mut self, event: Event) {
        let config = self.broker.config();
        let Some(note) = Note::from_event(&event, config) else {
            return;
        };
        let network = &self.network;
        let entry = from_note(self.now.as_millis(), note, config, |conn| {
            network.device_of(ConnId(conn))
        });
        self.trace.push(entry);
    }
}
