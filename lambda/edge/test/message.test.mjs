// The message the edge sends is the contract's fixture, byte for byte: the same files
// (internal/queuemsg/testdata) are what the transfer Lambda's and the backtoorigin
// command's Go tests parse and write.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createHandler } from "../index.mjs";
import { originResponse, sha256Hex, CONTEXT } from "./helpers.mjs";

const fixture = (name) => readFileSync(new URL(`../../../internal/queuemsg/testdata/${name}`, import.meta.url), "utf8").replace(/\n$/, "");

const settings = { queueName: "transfer.fifo", queueRegion: "us-east-1", sourceDomainName: "storage.googleapis.com" };

// What one origin response makes the handler send, read off the SQS client it is given.
async function sent(event) {
  const inputs = [];
  const sqsClient = {
    send: async (command) => {
      inputs.push(command.input);
      return { MessageId: "m-1" };
    },
  };
  await createHandler(settings, { sqsClient, log: () => {}, metric: () => {} })(event, CONTEXT);
  return inputs;
}

for (const [name, uri] of [
  ["edge-miss.json", "/img/a%20b+c.png"],
  ["edge-miss-unicode.json", "/%E6%97%A5%E6%9C%AC/caf%C3%A9%20%F0%9F%98%80.txt"],
]) {
  test(`GCS 200 for ${uri}: the body is exactly ${name}`, async () => {
    const inputs = await sent(originResponse("gcs", { uri }));
    assert.equal(inputs.length, 1);
    assert.equal(inputs[0].MessageBody, fixture(name));
    const { key } = JSON.parse(inputs[0].MessageBody);
    assert.equal(inputs[0].MessageGroupId, sha256Hex(key));
    assert.equal(inputs[0].MessageDeduplicationId, sha256Hex(key));
  });
}
