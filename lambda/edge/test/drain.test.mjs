// The drain helper every queue assertion here relies on: it must return each message sent
// before it was called, however soon after the send, and must never hide a missing or an
// extra message.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { SQSClient, SendMessageCommand } from "@aws-sdk/client-sqs";
import { startSqsStandIn, TEST_CREDENTIALS } from "./helpers.mjs";

let sqs;
let client;
before(async () => {
  sqs = await startSqsStandIn();
  client = new SQSClient({ region: "us-east-1", endpoint: sqs.endpoint, credentials: TEST_CREDENTIALS });
});
after(async () => {
  client.destroy();
  await sqs.close();
});

const send = (queueUrl, key) =>
  client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify({ key }), MessageGroupId: key, MessageDeduplicationId: key }));

test("a message sent just before the drain is always received (300 sends, each drained at once)", async () => {
  const queue = await sqs.createQueue();
  for (let i = 0; i < 300; i++) {
    await send(queue.url, `k${i}`);
    const messages = await sqs.drain(queue.url, 1);
    assert.deepEqual(
      messages.map((m) => m.body.key),
      [`k${i}`],
      `send ${i}`,
    );
  }
});

test("more messages than expected are all returned, so the caller's count fails", async () => {
  const queue = await sqs.createQueue();
  await Promise.all(["a", "b", "c"].map((key) => send(queue.url, key)));
  const messages = await sqs.drain(queue.url, 1);
  assert.deepEqual(messages.map((m) => m.body.key).sort(), ["a", "b", "c"]);
});

test("fewer messages than expected is an error naming what arrived", async () => {
  const queue = await sqs.createQueue();
  await send(queue.url, "only");
  await assert.rejects(sqs.drain(queue.url, 2, { withinMs: 300 }), /expected 2 message\(s\) within 300 ms, received 1: \[\{"key":"only"\}\]/);
});
