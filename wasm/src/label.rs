//! The words on a sequence-diagram arrow: a packet's key fields, and in MQTT 5.0 its
//! Reason Code by name, so a refusal reads as what it is.

use broker_core::codec::{Properties, Property, ReasonCode};
use broker_core::{Packet, PacketType, SubscribeReturnCode};

/// The key fields of a packet in a few words, for the arrow's label.
pub fn label(packet: &Packet) -> String {
    match packet {
        Packet::Connect(c) => {
            let mut s = format!(
                "id \"{}\", clean {}, keep-alive {}s",
                c.client_id,
                u8::from(c.clean_session),
                c.keep_alive
            );
            if let Some(secs) = c.properties.session_expiry_interval() {
                s.push_str(&format!(", session expiry {secs}s"));
            }
            if let Some(w) = &c.will {
                s.push_str(&format!(", will {} q{}", w.topic.as_str(), w.qos.bits()));
                if let Some(secs) = w.properties.will_delay_interval() {
                    s.push_str(&format!(" after {secs}s"));
                }
            }
            s
        }
        Packet::ConnAck(a) => {
            let mut s = format!("session present {}", u8::from(a.session_present));
            match &a.properties {
                None => s.push_str(&format!(", rc {}", a.code.0)),
                Some(p) => {
                    s.push_str(&format!(", {}", reason(a.code, PacketType::ConnAck)));
                    if let Some(id) = p.assigned_client_identifier() {
                        s.push_str(&format!(", assigned id \"{id}\""));
                    }
                    if let Some(ka) = p.server_keep_alive() {
                        s.push_str(&format!(", keep-alive {ka}s"));
                    }
                }
            }
            s
        }
        Packet::Publish(p) => {
            // A topic replaced by its alias is empty on the wire.
            let topic = if p.topic.is_empty() {
                "(aliased)"
            } else {
                p.topic.as_str()
            };
            let mut s = format!("{topic} q{}", p.qos.bits());
            if let Some(id) = p.packet_id {
                s.push_str(&format!(" id {id}"));
            }
            if p.dup {
                s.push_str(" DUP");
            }
            if p.retain {
                s.push_str(" RETAIN");
            }
            if let Some(props) = &p.properties {
                publish_properties(props, &mut s);
            }
            s
        }
        Packet::PubAck(a) | Packet::PubRec(a) | Packet::PubRel(a) | Packet::PubComp(a) => {
            let mut s = format!("id {}", a.packet_id);
            if a.reason != ReasonCode::SUCCESS {
                s.push_str(&format!(", {}", reason(a.reason, packet.packet_type())));
            }
            s
        }
        Packet::UnsubAck(u) => {
            let mut s = format!("id {}", u.packet_id);
            for code in &u.codes {
                s.push_str(&format!(", {}", reason(*code, PacketType::UnsubAck)));
            }
            s
        }
        Packet::Subscribe(s) => {
            let filters: Vec<String> = s
                .filters
                .iter()
                .map(|(f, o)| {
                    let mut f = format!("{} q{}", f.as_str(), o.qos.bits());
                    if o.no_local {
                        f.push_str(" no-local");
                    }
                    if o.retain_as_published {
                        f.push_str(" retain-as-published");
                    }
                    f
                })
                .collect();
            let mut label = format!("id {}, {}", s.packet_id, filters.join(", "));
            if let Some(id) = s
                .properties
                .as_ref()
                .and_then(|p| p.subscription_identifiers().next())
            {
                label.push_str(&format!(", sub id {id}"));
            }
            label
        }
        Packet::SubAck(a) => {
            let codes: Vec<String> = a
                .codes
                .iter()
                .map(|c| match (c, a.properties.is_some()) {
                    (SubscribeReturnCode::Granted(q), _) => format!("q{}", q.bits()),
                    (other, true) => reason(ReasonCode(other.byte()), PacketType::SubAck),
                    (other, false) => format!("0x{:02x}", other.byte()),
                })
                .collect();
            format!("id {}, {}", a.packet_id, codes.join(", "))
        }
        Packet::Unsubscribe(u) => {
            let filters: Vec<&str> = u.filters.iter().map(|f| f.as_str()).collect();
            format!("id {}, {}", u.packet_id, filters.join(", "))
        }
        Packet::Disconnect(d) if d.reason != ReasonCode::SUCCESS => {
            reason(d.reason, PacketType::Disconnect)
        }
        Packet::Auth(a) => reason(a.reason, PacketType::Auth),
        Packet::PingReq | Packet::PingResp | Packet::Disconnect(_) => String::new(),
    }
}

/// One property as "Name: value", for the inbox and the inspector.
pub(crate) fn property_text(p: &Property) -> String {
    let value = match p {
        Property::PayloadFormatIndicator(v)
        | Property::RequestProblemInformation(v)
        | Property::RequestResponseInformation(v)
        | Property::MaximumQoS(v)
        | Property::RetainAvailable(v)
        | Property::WildcardSubscriptionAvailable(v)
        | Property::SubscriptionIdentifierAvailable(v)
        | Property::SharedSubscriptionAvailable(v) => v.to_string(),
        Property::MessageExpiryInterval(v)
        | Property::SubscriptionIdentifier(v)
        | Property::SessionExpiryInterval(v)
        | Property::WillDelayInterval(v)
        | Property::MaximumPacketSize(v) => v.to_string(),
        Property::ServerKeepAlive(v)
        | Property::ReceiveMaximum(v)
        | Property::TopicAliasMaximum(v)
        | Property::TopicAlias(v) => v.to_string(),
        Property::ContentType(s)
        | Property::ResponseTopic(s)
        | Property::AssignedClientIdentifier(s)
        | Property::AuthenticationMethod(s)
        | Property::ResponseInformation(s)
        | Property::ServerReference(s)
        | Property::ReasonString(s) => format!("{s:?}"),
        Property::CorrelationData(b) | Property::AuthenticationData(b) => {
            format!("{} bytes", b.len())
        }
        Property::UserProperty(k, v) => format!("{k:?} = {v:?}"),
    };
    format!("{}: {value}", p.name())
}

/// A Reason Code as "0x87 Not authorized".
fn reason(code: ReasonCode, packet: PacketType) -> String {
    let name = code.name_in(packet).unwrap_or_else(|| code.name());
    format!("0x{:02x} {name}", code.0)
}

/// The properties of a PUBLISH that change what happens to it.
fn publish_properties(props: &Properties, s: &mut String) {
    if let Some(alias) = props.topic_alias() {
        s.push_str(&format!(" alias {alias}"));
    }
    if let Some(secs) = props.message_expiry_interval() {
        s.push_str(&format!(" expires in {secs}s"));
    }
    let ids: Vec<String> = props
        .subscription_identifiers()
        .map(|id| id.to_string())
        .collect();
    if !ids.is_empty() {
        s.push_str(&format!(" sub id {}", ids.join(",")));
    }
}
