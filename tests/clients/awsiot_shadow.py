"""The AWS IoT Device SDK v2 for Python's shadow client (`awsiot.iotshadow.IotShadowClientV2`)
unmodified against brokerlab serve --profile aws-iot over mutual TLS: a device reports its
state, an app sets desired state and the device receives the delta, get, a stale version
refused with 409, a named shadow, and delete.

Run by tests/tests/real_clients.rs as `python awsiot_shadow.py PORT CA CERT KEY`; prints one
`ok: …` line per check and exits non-zero at the first check that fails."""

import queue
import sys
import threading
from concurrent.futures import Future

from awscrt import mqtt5, mqtt_request_response
from awsiot import ServiceStreamOptions, V2ServiceException, iotshadow, mqtt5_client_builder

PORT, CA, CERT, KEY = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
WAIT = 15
THING = "lamp"


def check(condition, what):
    if not condition:
        sys.exit(f"FAILED: {what}")
    print(f"ok: {what}", flush=True)


def connect(client_id):
    connected = Future()
    client = mqtt5_client_builder.mtls_from_path(
        endpoint="localhost", port=PORT, cert_filepath=CERT, pri_key_filepath=KEY,
        ca_filepath=CA, client_id=client_id,
        on_lifecycle_connection_success=lambda data: connected.set_result(True),
        on_lifecycle_connection_failure=lambda data: connected.done()
        or connected.set_exception(RuntimeError(f"connection failed: {data.exception}")),
    )
    client.start()
    connected.result(WAIT)
    options = mqtt_request_response.ClientOptions(
        max_request_response_subscriptions=4, max_streaming_subscriptions=2,
        operation_timeout_in_seconds=WAIT)
    return client, iotshadow.IotShadowClientV2(client, options)


def refused_code(future):
    try:
        future.result(WAIT)
    except V2ServiceException as error:
        return getattr(error.modeled_error, "code", None)
    return None


device, device_shadow = connect("lamp-device")
app, app_shadow = connect("lamp-app")

# The device listens for deltas before anything changes.
deltas = queue.Queue()
subscribed = threading.Event()
stream = device_shadow.create_shadow_delta_updated_stream(
    iotshadow.ShadowDeltaUpdatedSubscriptionRequest(thing_name=THING),
    ServiceStreamOptions(
        incoming_event_listener=deltas.put,
        subscription_status_listener=lambda event: subscribed.set()))
stream.open()
check(subscribed.wait(WAIT), "the delta stream is subscribed")

check(refused_code(device_shadow.get_shadow(iotshadow.GetShadowRequest(thing_name=THING))) == 404,
      "get of a shadow that does not exist: 404")

reported = device_shadow.update_shadow(iotshadow.UpdateShadowRequest(
    thing_name=THING, state=iotshadow.ShadowState(reported={"power": "off"}))).result(WAIT)
check(reported.version == 1 and reported.state.reported == {"power": "off"},
      "the device reports its state: version 1")

desired = app_shadow.update_shadow(iotshadow.UpdateShadowRequest(
    thing_name=THING, state=iotshadow.ShadowState(desired={"power": "on"}))).result(WAIT)
check(desired.version == 2, "the app sets desired state: version 2")
delta = deltas.get(timeout=WAIT)
check(delta.state == {"power": "on"} and delta.version == 2, f"the device receives the delta ({delta.state})")

got = device_shadow.get_shadow(iotshadow.GetShadowRequest(thing_name=THING)).result(WAIT)
check(got.state.desired == {"power": "on"} and got.state.reported == {"power": "off"}
      and got.state.delta == {"power": "on"} and got.version == 2,
      "get returns desired, reported and delta")

stale = app_shadow.update_shadow(iotshadow.UpdateShadowRequest(
    thing_name=THING, state=iotshadow.ShadowState(desired={"power": "off"}), version=1))
check(refused_code(stale) == 409, "an update with a stale version: 409")

named = device_shadow.update_named_shadow(iotshadow.UpdateNamedShadowRequest(
    thing_name=THING, shadow_name="colour",
    state=iotshadow.ShadowState(reported={"rgb": [255, 128, 0]}))).result(WAIT)
check(named.version == 1, "a named shadow has its own version")
got = app_shadow.get_named_shadow(iotshadow.GetNamedShadowRequest(
    thing_name=THING, shadow_name="colour")).result(WAIT)
check(got.state.reported == {"rgb": [255, 128, 0]}, "and its own document")

deleted = app_shadow.delete_shadow(iotshadow.DeleteShadowRequest(thing_name=THING)).result(WAIT)
check(deleted.version == 2, "delete answers with the shadow's version")
check(refused_code(device_shadow.get_shadow(iotshadow.GetShadowRequest(thing_name=THING))) == 404,
      "and the shadow is gone")

for client in (device, app):
    client.stop()
print("awsiotsdk IotShadowClientV2 over mutual TLS: all checks passed")
