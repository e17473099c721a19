//! Draining the broker (the core's drain contract): bytes go onto links, closes travel
//! to the devices, and events become trace entries.

use broker_core::policy::Decision;
use broker_core::{Event, Output};

use super::World;
use crate::network::Delivery;
use crate::trace::{Direction, TraceEntry};

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

    /// Turns a broker event into a trace entry. Packet and delivery events are switched
    /// off (the world traces packets itself); timer and acknowledgement notes are left out
    /// because the packets they cause already show on the diagram.
    fn record(&mut self, event: Event) {
        let at = self.now.as_millis();
        let entry = match event {
            Event::RuleFired {
                rule,
                conn,
                client_id,
                detail,
            } => TraceEntry::Rule {
                at,
                code: rule.code(),
                explanation: rule.explanation(&self.broker.config().aws),
                detail,
                device: conn.and_then(|c| self.network.device_of(c)),
                client_id,
            },
            Event::Connected {
                conn,
                client_id,
                session_present,
                ..
            } => TraceEntry::Connected {
                at,
                device: self.network.device_of(conn),
                client_id,
                session_present,
            },
            Event::Disconnected {
                conn,
                client_id,
                reason,
            } => TraceEntry::Disconnected {
                at,
                device: self.network.device_of(conn),
                client_id,
                publishes_will: reason.publishes_will(),
                reason: reason.describe(self.broker.config()),
            },
            Event::Session { client_id, change } => TraceEntry::Session {
                at,
                client_id,
                change: format!("{change:?}"),
            },
            Event::WillPublished { client_id, topic } => TraceEntry::Will {
                at,
                client_id,
                topic: topic.as_str().to_owned(),
            },
            Event::RetainedStored { topic } => TraceEntry::Retained {
                at,
                topic: topic.as_str().to_owned(),
                stored: true,
            },
            Event::RetainedDeleted { topic } => TraceEntry::Retained {
                at,
                topic: topic.as_str().to_owned(),
                stored: false,
            },
            Event::Dropped {
                client_id,
                topic,
                reason,
                ..
            } => TraceEntry::Dropped {
                at,
                client_id,
                topic: topic.as_str().to_owned(),
                reason: format!("{reason:?}"),
            },
            Event::SlowConsumer { client_id, slow } => TraceEntry::SlowConsumer {
                at,
                client_id,
                slow,
            },
            Event::Resent {
                client_id, count, ..
            } => TraceEntry::Resent {
                at,
                client_id,
                count,
            },
            Event::ProtocolViolation { conn, violation } => TraceEntry::Violation {
                at,
                device: self.network.device_of(conn),
                detail: format!("{violation:?} ({})", violation.statement()),
            },
            // Allowed requests are the normal case and the packets already show them;
            // a denial is worth a line on the diagram, with the reason.
            Event::PolicyDecision {
                conn,
                client_id,
                decision,
            } => {
                if decision.allowed {
                    return;
                }
                TraceEntry::PolicyDenied {
                    at,
                    device: conn.and_then(|c| self.network.device_of(c)),
                    client_id,
                    action: decision.action.name().to_owned(),
                    reason: denial_reason(&decision),
                    resource: decision.resource,
                }
            }
            Event::PacketIn { .. }
            | Event::PacketOut { .. }
            | Event::Delivered { .. }
            | Event::TimerFired { .. }
            | Event::UnexpectedAck { .. } => return,
        };
        self.trace.push(entry);
    }
}

/// A denial in one line, as the server logs it: `policy: iot:Subscribe on ... denied by
/// statement 1 of policy "global"`.
pub(crate) fn denial_reason(decision: &Decision) -> String {
    format!("policy: {}", decision.describe())
}
