//! The client's small state enums, kept apart so views can name them.

/// Where a client's connection stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum ClientState {
    /// No transport, or the transport is closing.
    Disconnected,
    /// CONNECT sent, CONNACK not yet received.
    Connecting,
    /// CONNACK accepted.
    Connected,
}

/// Where an outgoing QoS 1 or 2 message is in its handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum OutgoingState {
    /// QoS 1, waiting for PUBACK.
    AwaitingPubAck,
    /// QoS 2, waiting for PUBREC.
    AwaitingPubRec,
    /// QoS 2, PUBREL sent, waiting for PUBCOMP.
    AwaitingPubComp,
}
