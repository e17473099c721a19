// MQTT.js (npm `mqtt`) with protocolVersion 5 over WebSocket against brokerlab serve
// --profile mqtt-5: CONNACK properties, Subscription Identifiers, User Properties, topic
// aliases both ways, a shared subscription splitting messages between two members, and
// SUBACK's reason code for a refused filter.
//
// Run by tests/tests/real_clients.rs as `node mqttjs_v5.mjs ws://HOST:PORT/mqtt` with
// NODE_PATH naming the node_modules that holds `mqtt`; prints one `ok: …` line per check
// and exits non-zero at the first check that fails.

import { createRequire } from "node:module";
import { once } from "node:events";

const require = createRequire(process.env.NODE_PATH + "/");
const mqtt = require("mqtt");
const url = process.argv[2];
const WAIT_MS = 10000;

function check(condition, what) {
  if (!condition) {
    console.error(`FAILED: ${what}`);
    process.exit(1);
  }
  console.log(`ok: ${what}`);
}

function within(promise, what) {
  return Promise.race([
    promise,
    new Promise((_, reject) => setTimeout(() => reject(new Error(`no ${what} within ${WAIT_MS} ms`)), WAIT_MS)),
  ]);
}

async function connect(clientId, options = {}) {
  const client = mqtt.connect(url, { clientId, protocolVersion: 5, reconnectPeriod: 0, ...options });
  const [connack] = await within(once(client, "connect"), `CONNACK for ${clientId}`);
  client.inbox = [];
  client.waiting = [];
  client.on("message", (topic, payload, packet) => {
    const waiter = client.waiting.shift();
    if (waiter) waiter({ topic, payload, packet });
    else client.inbox.push({ topic, payload, packet });
  });
  client.next = () => within(
    client.inbox.length ? Promise.resolve(client.inbox.shift()) : new Promise((resolve) => client.waiting.push(resolve)),
    `message for ${clientId}`,
  );
  return { client, connack };
}

try {
  const { client: a, connack } = await connect("js-a", {
    properties: { topicAliasMaximum: 4, sessionExpiryInterval: 0 },
  });
  check(connack.reasonCode === 0, "MQTT 5.0 CONNACK over WebSocket: Success");
  check(typeof connack.properties === "object", "CONNACK properties decoded");
  const serverAliases = connack.properties.topicAliasMaximum ?? 0;

  const granted = await a.subscribeAsync("js/#", { qos: 1, properties: { subscriptionIdentifier: 3 } });
  check(granted[0].qos === 1, "SUBACK grants QoS 1");

  await a.publishAsync("js/one", "first", {
    qos: 1,
    properties: { userProperties: { tag: "x", unit: "C" }, contentType: "text/plain" },
  });
  let got = await a.next();
  check(got.topic === "js/one" && got.payload.toString() === "first", "the message comes back");
  check(JSON.stringify(got.packet.properties.subscriptionIdentifier) === "3"
    || JSON.stringify(got.packet.properties.subscriptionIdentifier) === "[3]", "with Subscription Identifier 3");
  check(got.packet.properties.userProperties.tag === "x" && got.packet.properties.contentType === "text/plain",
    "with its User Properties and Content Type");

  // Client-to-server topic alias: set once with the topic, then used with an empty topic.
  if (serverAliases > 0) {
    await a.publishAsync("js/aliased", "alias set", { qos: 1, properties: { topicAlias: 1 } });
    got = await a.next();
    check(got.topic === "js/aliased", "a PUBLISH that sets topic alias 1 is routed");
    await a.publishAsync("", "alias used", { qos: 1, properties: { topicAlias: 1 } });
    got = await a.next();
    check(got.topic === "js/aliased" && got.payload.toString() === "alias used",
      "a PUBLISH with an empty topic and alias 1 reaches js/aliased");
  } else {
    check(false, "the broker offers topic aliases (Topic Alias Maximum in CONNACK)");
  }

  // A shared subscription: every message reaches exactly one member of the group.
  const { client: m1 } = await connect("js-m1");
  const { client: m2 } = await connect("js-m2");
  await m1.subscribeAsync("$share/workers/jobs/+", { qos: 1 });
  await m2.subscribeAsync("$share/workers/jobs/+", { qos: 1 });
  let counts = [0, 0];
  m1.on("message", () => counts[0]++);
  m2.on("message", () => counts[1]++);
  for (let i = 0; i < 20; i++) await a.publishAsync(`jobs/${i}`, `job ${i}`, { qos: 1 });
  const deadline = Date.now() + WAIT_MS;
  while (counts[0] + counts[1] < 20 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  check(counts[0] + counts[1] === 20, `each of 20 jobs reaches exactly one member of $share/workers (${counts})`);

  // The refused filter of the broker's settings gets SUBACK 0x80.
  // MQTT.js turns a failure code in SUBACK into an error that names it.
  const refused = await a.subscribeAsync("test/nosubscribe", { qos: 1 }).then(
    (granted) => `granted ${JSON.stringify(granted)}`,
    (err) => err.message,
  );
  check(/Unspecified error/.test(refused), `SUBACK 0x80 for a refused filter (${refused})`);

  await Promise.all([a.endAsync(), m1.endAsync(), m2.endAsync()]);
  console.log("MQTT.js protocolVersion 5 over WebSocket: all checks passed");
  process.exit(0);
} catch (err) {
  console.error(`FAILED: ${err.message}`);
  process.exit(1);
}
