// A burst of misses for one key becomes one message: the container's memory of recent
// keys (in flight or sent) stops repeats before they reach SQS, and the FIFO
// deduplication id catches what several containers send.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHandler } from "../index.mjs";
import { originResponse, responseOf, startSqsStandIn, captureLog, sha256Hex, CONTEXT } from "./helpers.mjs";

let sqs;
before(async () => {
  sqs = await startSqsStandIn();
});
after(async () => {
  await sqs.close();
});

// A handler as in a warm container: its client has sent once already, so a burst is not
// also the client's cold start (on a loaded machine that alone can take a second).
async function setup(deps = {}) {
  const queue = await sqs.createQueue();
  const { entries, log } = captureLog();
  const settings = { queueName: queue.name, queueRegion: "us-east-1", sourceDomainName: "storage.googleapis.com", includePrefixes: [], excludeSuffixes: [] };
  const handler = createHandler(settings, { ...sqs.handlerDeps, log, ...deps });
  await handler(originResponse("gcs", { uri: "/warm-up" }), CONTEXT);
  assert.equal((await sqs.drain(queue.url, 1)).length, 1, "warm-up message");
  entries.length = 0;
  const sendsBefore = sqs.sends.length;
  return { queue, handler, logs: entries, sends: () => sqs.sends.length - sendsBefore };
}

// A video player's range requests for one object, all concurrent.
const rangeMiss = (uri, i) =>
  originResponse("gcs", {
    uri,
    status: "206",
    headers: (h) => ({ ...h, "content-range": [{ key: "Content-Range", value: `bytes ${i * 100}-${i * 100 + 99}/1000000` }] }),
  });

test("100 concurrent invocations for one key: one SendMessage, one message", async () => {
  const { queue, handler, sends } = await setup();
  const events = Array.from({ length: 100 }, (_, i) => rangeMiss("/video/movie.mp4", i));
  const expected = events.map((e) => structuredClone(responseOf(e)));

  const returned = await Promise.all(events.map((e) => handler(e, CONTEXT)));

  assert.deepEqual(returned, expected);
  assert.equal(sends(), 1, "in-flight dedup: later invocations did not send while the first was in flight");
  const messages = await sqs.drain(queue.url, 1);
  assert.equal(messages.length, 1);
  assert.equal(messages[0].body.key, "video/movie.mp4");
  assert.equal(messages[0].body.size, 1234, "size from x-goog-stored-content-length");
});

test("the same key again after it was sent: no second SendMessage within the memory window", async () => {
  const { queue, handler, sends } = await setup();
  await handler(originResponse("gcs"), CONTEXT);
  await handler(originResponse("gcs", { status: "304" }), CONTEXT);
  assert.equal(sends(), 1);
  assert.equal((await sqs.drain(queue.url, 1)).length, 1);
});

test("100 invocations for 100 distinct keys, 10 at a time: 100 messages", async () => {
  const { queue, handler, sends, logs } = await setup();
  const keys = Array.from({ length: 100 }, (_, i) => `photos/${i} é+${i}.jpg`);
  // Waves of 10, not 100 at once: the stand-in shares this process's event loop, and 100
  // sends at once on a loaded 2-core machine can outlast the handler's 1 s bound, which
  // would test the machine, not the memory.
  for (let i = 0; i < keys.length; i += 10) {
    await Promise.all(keys.slice(i, i + 10).map((key) => handler(originResponse("gcs", { uri: `/${encodeURIComponent(key)}` }), CONTEXT)));
  }

  assert.deepEqual(logs.filter((l) => l.level !== "info"), []);
  assert.equal(sends(), 100);
  const messages = await sqs.drain(queue.url, 100);
  assert.deepEqual(messages.map((m) => m.body.key).sort(), [...keys].sort());
  for (const m of messages) assert.equal(m.groupId, sha256Hex(m.body.key));
});

test("two containers (two handlers) for one key: two sends, one message thanks to the FIFO deduplication id", async () => {
  const first = await setup();
  const secondLog = captureLog();
  const second = createHandler(
    { queueName: first.queue.name, queueRegion: "us-east-1", sourceDomainName: "storage.googleapis.com", includePrefixes: [], excludeSuffixes: [] },
    { ...sqs.handlerDeps, log: secondLog.log },
  );
  await second(originResponse("gcs", { uri: "/warm-up" }), CONTEXT);
  await sqs.drain(first.queue.url, 1);
  const sendsBefore = sqs.sends.length;
  await Promise.all([first.handler(originResponse("gcs"), CONTEXT), second(originResponse("gcs"), CONTEXT)]);
  assert.deepEqual([...first.logs, ...secondLog.entries].filter((l) => l.level !== "info"), []);
  assert.equal(sqs.sends.length - sendsBefore, 2);
  assert.equal((await sqs.drain(first.queue.url, 1)).length, 1);
});

test("the memory forgets a key after its time-to-live", async () => {
  let now = 1_000_000;
  const { queue, handler, sends } = await setup({ now: () => now, rememberMs: 60_000 });
  await handler(originResponse("gcs"), CONTEXT);
  now += 59_999;
  await handler(originResponse("gcs"), CONTEXT);
  assert.equal(sends(), 1, "still remembered just before the TTL");
  now += 1;
  await handler(originResponse("gcs"), CONTEXT);
  assert.equal(sends(), 2, "sent again once the TTL has passed");
  // The second send finds the first message still queued: one message (FIFO deduplication).
  assert.equal((await sqs.drain(queue.url, 1)).length, 1);
});

test("the memory is bounded: the oldest key is forgotten first", async () => {
  const { queue, handler, sends } = await setup({ rememberKeys: 3 });
  const miss = (key) => handler(originResponse("gcs", { uri: `/${key}` }), CONTEXT);
  for (const key of ["a", "b", "c", "d"]) await miss(key);
  assert.equal(sends(), 4);
  await miss("d");
  await miss("c");
  await miss("b");
  assert.equal(sends(), 4, "the three newest keys are remembered");
  await miss("a");
  assert.equal(sends(), 5, "the oldest key was evicted and is sent again");
  // "a" was sent twice while its first message was still queued: four messages.
  assert.equal((await sqs.drain(queue.url, 4)).length, 4);
});
