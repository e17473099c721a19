"""paho-mqtt (PyPI) against brokerlab serve --profile mqtt-5: an MQTT 5.0 client and an
MQTT 3.1.1 client exchanging messages both ways, MQTT 5.0 properties passed through,
Subscription Identifiers, a session resumed after a disconnect (Session Expiry Interval),
and UNSUBACK's reason code for a filter that was never subscribed.

Run by tests/tests/real_clients.rs as `python paho_v5.py PORT`; prints one `ok: …` line per
check and exits non-zero at the first check that fails."""

import queue
import sys

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

PORT = int(sys.argv[1])
WAIT = 10


def check(condition, what):
    if not condition:
        sys.exit(f"FAILED: {what}")
    print(f"ok: {what}", flush=True)


class Client:
    """A paho client whose callbacks feed queues, so that a check waits for an event."""

    def __init__(self, client_id, version, **options):
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=version, **options
        )
        self.events = {name: queue.Queue() for name in ("connect", "subscribe", "unsubscribe", "message", "publish")}
        self.client.on_connect = lambda c, u, flags, rc, props: self.events["connect"].put((flags, rc, props))
        self.client.on_subscribe = lambda c, u, mid, codes, props: self.events["subscribe"].put(codes)
        self.client.on_unsubscribe = lambda c, u, mid, codes, props: self.events["unsubscribe"].put(codes)
        self.client.on_message = lambda c, u, msg: self.events["message"].put(msg)
        self.client.on_publish = lambda c, u, mid, rc, props: self.events["publish"].put(rc)

    def next(self, event):
        try:
            return self.events[event].get(timeout=WAIT)
        except queue.Empty:
            sys.exit(f"FAILED: no {event} within {WAIT}s")

    def connect(self, **kwargs):
        self.client.connect("127.0.0.1", PORT, keepalive=30, **kwargs)
        self.client.loop_start()
        return self.next("connect")

    def stop(self):
        self.client.disconnect()
        self.client.loop_stop()


def session_expiry(seconds):
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = seconds
    return props


five = Client("paho-v5", mqtt.MQTTv5)
flags, rc, props = five.connect(clean_start=True, properties=session_expiry(0))
check(rc == 0 and not flags.session_present, "MQTT 5.0 CONNACK Success, no session")
check(getattr(props, "ReceiveMaximum", 65535) > 0, "CONNACK properties decoded")

three = Client("paho-v311", mqtt.MQTTv311, clean_session=True)
flags, rc, _ = three.connect()
check(rc == 0, "MQTT 3.1.1 CONNACK accepted")

sub = Properties(PacketTypes.SUBSCRIBE)
sub.SubscriptionIdentifier = 7
five.client.subscribe("lab/#", options=SubscribeOptions(qos=1), properties=sub)
check([int(code.value) for code in five.next("subscribe")] == [1], "SUBACK grants QoS 1 to the 5.0 client")
three.client.subscribe("lab/#", qos=1)
check([int(code.value) for code in three.next("subscribe")] == [1], "SUBACK grants QoS 1 to the 3.1.1 client")

# 5.0 to 3.1.1 and to itself, with every property a subscriber must get unchanged.
pub = Properties(PacketTypes.PUBLISH)
pub.UserProperty = [("k", "1"), ("k", "2"), ("a", "3")]
pub.ResponseTopic = "lab/reply"
pub.CorrelationData = b"\x00\x2a"
pub.ContentType = "text/plain"
pub.PayloadFormatIndicator = 1
pub.MessageExpiryInterval = 3600
five.client.publish("lab/from-five", b"hello 3.1.1", qos=1, properties=pub)
check(int(five.next("publish").value) in (0, 16), "PUBACK for the 5.0 publish")
got = three.next("message")
check((got.topic, got.payload, got.qos) == ("lab/from-five", b"hello 3.1.1", 1), "the 3.1.1 client gets the 5.0 message")
got = five.next("message")
p = got.properties
check(p.SubscriptionIdentifier == [7], "the 5.0 subscriber's copy carries Subscription Identifier 7")
check(p.UserProperty == [("k", "1"), ("k", "2"), ("a", "3")], "User Properties in order")
check((p.ResponseTopic, p.CorrelationData) == ("lab/reply", b"\x00\x2a"), "Response Topic and Correlation Data unchanged")
check((p.ContentType, p.PayloadFormatIndicator) == ("text/plain", 1), "Content Type and Payload Format Indicator unchanged")
check(0 < p.MessageExpiryInterval <= 3600, "Message Expiry Interval forwarded, counted down")

# 3.1.1 to 5.0.
three.client.publish("lab/from-three", b"hello 5.0", qos=1)
got = five.next("message")
check((got.topic, got.payload, got.qos) == ("lab/from-three", b"hello 5.0", 1), "the 5.0 client gets the 3.1.1 message")
check(got.properties.SubscriptionIdentifier == [7], "with its Subscription Identifier")
check(not hasattr(got.properties, "UserProperty"), "and no properties the publisher did not send")
three.next("message")

# UNSUBACK 0x11 for a filter that was never subscribed, 0x00 for one that was.
five.client.unsubscribe(["never/subscribed", "lab/#"])
codes = [int(code.value) for code in five.next("unsubscribe")]
check(codes == [0x11, 0x00], f"UNSUBACK reason codes 0x11 and 0x00 (got {codes})")
five.stop()

# A session that outlives its connection: a QoS 1 message published while the client is
# away is delivered when it comes back with Clean Start 0.
away = Client("paho-v5-away", mqtt.MQTTv5)
away.connect(clean_start=True, properties=session_expiry(300))
away.client.subscribe("away/inbox", options=SubscribeOptions(qos=1))
away.next("subscribe")
away.stop()
three.client.publish("away/inbox", b"while you were out", qos=1)
three.next("publish")
flags, rc, props = away.connect(clean_start=False, properties=session_expiry(300))
check(rc == 0 and flags.session_present, "Session Present after a reconnect within the Session Expiry Interval")
got = away.next("message")
check(got.payload == b"while you were out", "the message queued while away is delivered")
away.stop()
three.stop()
print("paho-mqtt MQTTv5: all checks passed")
