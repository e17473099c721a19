"""The AWS IoT Device SDK v2 for Python (PyPI `awsiotsdk`): its Mqtt5Client over mutual
TLS against brokerlab serve --profile aws-iot, as a device connects to AWS IoT Core: the
settings AWS's CONNACK negotiates (Maximum QoS 1, no Subscription Identifiers, a capped
Session Expiry Interval), a QoS 1 round trip with User Properties, and a clean DISCONNECT.

Run by tests/tests/real_clients.rs as `python awsiot_mqtt5.py PORT CA CERT KEY`; prints one
`ok: …` line per check and exits non-zero at the first check that fails."""

import sys
from concurrent.futures import Future

from awscrt import mqtt5
from awsiot import mqtt5_client_builder

PORT, CA, CERT, KEY = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
WAIT = 10


def check(condition, what):
    if not condition:
        sys.exit(f"FAILED: {what}")
    print(f"ok: {what}", flush=True)


connected, stopped, received = Future(), Future(), Future()
client = mqtt5_client_builder.mtls_from_path(
    endpoint="localhost",
    port=PORT,
    cert_filepath=CERT,
    pri_key_filepath=KEY,
    ca_filepath=CA,
    client_id="sdk-device-1",
    session_expiry_interval_sec=7 * 24 * 3600,
    on_publish_received=lambda data: received.done() or received.set_result(data.publish_packet),
    on_lifecycle_connection_success=lambda data: connected.set_result(data),
    on_lifecycle_connection_failure=lambda data: connected.done()
    or connected.set_exception(RuntimeError(f"connection failed: {data.exception}")),
    on_lifecycle_stopped=lambda data: stopped.set_result(True),
)
client.start()
success = connected.result(WAIT)
check(success.connack_packet.reason_code == mqtt5.ConnectReasonCode.SUCCESS, "CONNACK Success over mutual TLS")
settings = success.negotiated_settings
check(settings.maximum_qos == mqtt5.QoS.AT_LEAST_ONCE, "CONNACK Maximum QoS 1, as AWS IoT Core sends")
# The aws-iot profile's D5 refuses retained messages by default (docs/aws-iot-profile.md).
check(settings.retain_available is False, "Retain Available 0, as D5 says by default")
check(settings.wildcard_subscriptions_available is True, "Wildcard Subscription Available")
check(settings.subscription_identifiers_available is False, "Subscription Identifier Available 0")
check(settings.shared_subscriptions_available is True, "Shared Subscription Available")
check(settings.session_expiry_interval_sec == 3600, f"a week of Session Expiry lowered to AWS's 3600 s ({settings.session_expiry_interval_sec})")

suback = client.subscribe(mqtt5.SubscribePacket(
    subscriptions=[mqtt5.Subscription(topic_filter="sdk/test", qos=mqtt5.QoS.AT_LEAST_ONCE)]
)).result(WAIT)
check(suback.reason_codes == [mqtt5.SubackReasonCode.GRANTED_QOS_1], "SUBACK grants QoS 1")

puback = client.publish(mqtt5.PublishPacket(
    topic="sdk/test",
    payload=b'{"temperature": 21}',
    qos=mqtt5.QoS.AT_LEAST_ONCE,
    user_properties=[mqtt5.UserProperty(name="unit", value="C")],
)).result(WAIT).puback
check(puback.reason_code == mqtt5.PubackReasonCode.SUCCESS, "PUBACK Success")
message = received.result(WAIT)
check(message.payload == b'{"temperature": 21}', "the device gets its own message back")
check([(p.name, p.value) for p in message.user_properties or []] == [("unit", "C")], "with its User Property")

client.stop()
stopped.result(WAIT)
print("awsiotsdk Mqtt5Client over mutual TLS: all checks passed")
