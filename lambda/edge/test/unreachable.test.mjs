// A queue that is down or hung must not stall or break viewers: the handler returns the
// untouched response within about a second, logs one JSON line, and tries again on a
// later miss.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { SQSClient } from "@aws-sdk/client-sqs";
import { createHandler } from "../index.mjs";
import {
  originResponse,
  responseOf,
  startSqsStandIn,
  startBlackHole,
  closedPortEndpoint,
  captureLog,
  CONTEXT,
  ACCOUNT_ID,
  TEST_CREDENTIALS,
} from "./helpers.mjs";

// The handler's deadline is 1 s for the call, retry included; allow for a busy machine.
const BOUND_MS = 1500;

const settings = { queueName: "transfer.fifo", queueRegion: "us-east-1", sourceDomainName: "storage.googleapis.com", includePrefixes: [], excludeSuffixes: [] };

let blackHole;
before(async () => {
  blackHole = await startBlackHole();
});
after(async () => {
  await blackHole.close();
});

async function timedMiss(handler, event = originResponse("gcs")) {
  const expected = structuredClone(responseOf(event));
  const started = performance.now();
  const returned = await handler(event, CONTEXT);
  const elapsed = performance.now() - started;
  assert.equal(returned, responseOf(event));
  assert.deepEqual(returned, expected);
  return elapsed;
}

function assertOneSendFailure(logs) {
  assert.equal(logs.length, 1, JSON.stringify(logs));
  assert.equal(logs[0].level, "error");
  assert.equal(logs[0].key, "img/cat.png");
  // The URL is built from the queue's region, the account in the function ARN and the name.
  assert.equal(logs[0].queueUrl, `https://sqs.us-east-1.amazonaws.com/${ACCOUNT_ID}/transfer.fifo`);
  assert.equal(typeof logs[0].error, "string");
}

test("SQS port closed: response returned untouched at once, one error line", async () => {
  const { entries, log } = captureLog();
  const handler = createHandler(settings, { sqsClientConfig: { endpoint: await closedPortEndpoint(), credentials: TEST_CREDENTIALS }, log });
  const elapsed = await timedMiss(handler);
  assert.ok(elapsed < BOUND_MS, `took ${elapsed.toFixed(0)} ms`);
  assertOneSendFailure(entries);
});

test("SQS accepts connections but never answers: response returned untouched within the bound", async () => {
  const { entries, log } = captureLog();
  const handler = createHandler(settings, { sqsClientConfig: { endpoint: blackHole.endpoint, credentials: TEST_CREDENTIALS }, log });
  const elapsed = await timedMiss(handler);
  assert.ok(elapsed < BOUND_MS, `took ${elapsed.toFixed(0)} ms`);
  // The bound is a deadline, not luck: a hung queue uses most of it (first attempt
  // times out, one retry).
  assert.ok(elapsed > 400, `took only ${elapsed.toFixed(0)} ms against a hung server`);
  assertOneSendFailure(entries);
});

test("a client that ignores the abort signal still cannot hold the viewer past the deadline", async () => {
  const { entries, log } = captureLog();
  const neverSettles = { send: () => new Promise(() => {}) };
  const handler = createHandler(settings, { sqsClient: neverSettles, log });
  const elapsed = await timedMiss(handler);
  assert.ok(elapsed >= 950 && elapsed < BOUND_MS, `took ${elapsed.toFixed(0)} ms`);
  assertOneSendFailure(entries);
});

test("a send that failed is not remembered: the next miss for the key reaches the queue", async () => {
  const sqs = await startSqsStandIn();
  try {
    const queue = await sqs.createQueue();
    // Real clients behind one injected client, so the queue "comes back" between misses.
    const down = new SQSClient({ region: "us-east-1", endpoint: await closedPortEndpoint(), credentials: TEST_CREDENTIALS, maxAttempts: 1 });
    const up = new SQSClient({ region: "us-east-1", endpoint: sqs.endpoint, credentials: TEST_CREDENTIALS });
    let current = down;
    const handler = createHandler({ ...settings, queueName: queue.name }, { sqsClient: { send: (...args) => current.send(...args) }, log: () => {}, sendDeadlineMs: 10_000 });
    await timedMiss(handler);
    current = up;
    await timedMiss(handler);
    down.destroy();
    up.destroy();
    const messages = await sqs.drain(queue.url, 1);
    assert.deepEqual(
      messages.map((m) => m.body.key),
      ["img/cat.png"],
    );
  } finally {
    await sqs.close();
  }
});

// Answers the first `failures` SendMessage attempts with a 500 (retryable), then passes
// requests on to the stand-in. Counts the attempts it sees.
async function startFlakyFront(standInEndpoint, failures) {
  const target = new URL(standInEndpoint);
  let attempts = 0;
  const server = http.createServer((req, res) => {
    const body = [];
    req.on("data", (chunk) => body.push(chunk));
    req.on("end", () => {
      if (req.headers["x-amz-target"] === "AmazonSQS.SendMessage" && attempts++ < failures) {
        res.writeHead(500, { "content-type": "application/x-amz-json-1.0", "x-amzn-query-error": "InternalError;Receiver" });
        res.end(JSON.stringify({ __type: "com.amazonaws.sqs#InternalError", message: "try again" }));
        return;
      }
      const forward = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode, answer.headers);
        answer.pipe(res);
      });
      forward.end(Buffer.concat(body));
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    endpoint: `http://127.0.0.1:${server.address().port}`,
    attempts: () => attempts,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

test("one failed attempt is retried once and the message lands", async () => {
  const sqs = await startSqsStandIn();
  const front = await startFlakyFront(sqs.endpoint, 1);
  try {
    const queue = await sqs.createQueue();
    const { entries, log } = captureLog();
    const handler = createHandler({ ...settings, queueName: queue.name }, { sqsClientConfig: { endpoint: front.endpoint, credentials: TEST_CREDENTIALS }, log, sendDeadlineMs: 10_000 });
    await timedMiss(handler);
    assert.equal(front.attempts(), 2);
    assert.deepEqual(entries.map((e) => e.level), ["info"]);
    assert.deepEqual((await sqs.drain(queue.url, 1)).map((m) => m.body.key), ["img/cat.png"]);
  } finally {
    await front.close();
    await sqs.close();
  }
});

test("an SQS that keeps failing gets two attempts, no more, then one error line", async () => {
  const sqs = await startSqsStandIn();
  const front = await startFlakyFront(sqs.endpoint, Infinity);
  try {
    const { entries, log } = captureLog();
    const handler = createHandler(settings, { sqsClientConfig: { endpoint: front.endpoint, credentials: TEST_CREDENTIALS }, log });
    const elapsed = await timedMiss(handler);
    assert.ok(elapsed < BOUND_MS, `took ${elapsed.toFixed(0)} ms`);
    assert.equal(front.attempts(), 2);
    assertOneSendFailure(entries);
  } finally {
    await front.close();
    await sqs.close();
  }
});

test("a client that throws before returning a promise: response returned, one error line, nothing left behind", async () => {
  const rejections = [];
  const onRejection = (reason) => rejections.push(reason);
  process.on("unhandledRejection", onRejection);
  try {
    const { entries, log } = captureLog();
    const throwsAtOnce = {
      send: () => {
        throw new Error("cannot build request");
      },
    };
    const handler = createHandler(settings, { sqsClient: throwsAtOnce, log, sendDeadlineMs: 50 });
    const elapsed = await timedMiss(handler);
    assert.ok(elapsed < 50, `took ${elapsed.toFixed(0)} ms: it should fail at once, not wait for the deadline`);
    assertOneSendFailure(entries);
    assert.match(entries[0].error, /cannot build request/);
    // Past the deadline: a timer left running would reject with nobody listening.
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.deepEqual(rejections, []);
  } finally {
    process.off("unhandledRejection", onRejection);
  }
});
