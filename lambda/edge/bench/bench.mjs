// What the handler costs viewers: the pass-through path (every response from S3) and
// the enqueue path (a GCS miss: one SendMessage), against local-aws-sqs on a free
// 127.0.0.1 port. Prints one table; see README.md for the numbers on record.
import { openSync, writeSync } from "node:fs";
import { loadavg, availableParallelism } from "node:os";
import { performance } from "node:perf_hooks";
import { createHandler } from "../index.mjs";
import { originResponse, startSqsStandIn, CONTEXT, TEST_CREDENTIALS } from "../test/helpers.mjs";

const PASS_THROUGH_GOAL_MS = 0.05;
const ENQUEUE_P99_GOAL_MS = 20;

function quantile(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

// Paths far below the timer's resolution are timed in batches; the median is over the
// per-call average of each batch.
async function timeBatches(handler, makeEvent, { batches, batchSize }) {
  const events = Array.from({ length: batchSize }, makeEvent);
  const perCall = [];
  for (let b = 0; b < batches; b++) {
    const started = performance.now();
    for (const event of events) await handler(event, CONTEXT);
    perCall.push((performance.now() - started) / batchSize);
  }
  return perCall.sort((a, b) => a - b);
}

async function timeEach(handler, makeEvent, count) {
  const samples = [];
  for (let i = 0; i < count; i++) {
    const event = makeEvent(i);
    const started = performance.now();
    await handler(event, CONTEXT);
    samples.push(performance.now() - started);
  }
  return samples.sort((a, b) => a - b);
}

const sqs = await startSqsStandIn();
try {
  const queue = await sqs.createQueue("bench.fifo");
  let failures = 0;
  // Logging is counted out: on Lambda, console.log goes to CloudWatch off the request path.
  const log = (entry) => {
    if (entry.level === "error") failures++;
  };
  // The origin-fetch metric line is counted in: every S3 hit writes one, and here each is a
  // synchronous write(2) to /dev/null, dearer than Lambda's buffered stdout.
  const devNull = openSync("/dev/null", "w");
  const metric = (line) => writeSync(devNull, line + "\n");
  const handler = createHandler(
    { queueName: queue.name, queueRegion: "us-east-1", sourceDomainName: "storage.googleapis.com", includePrefixes: [], excludeSuffixes: [] },
    { sqsClientConfig: { endpoint: sqs.endpoint, credentials: TEST_CREDENTIALS }, log, metric },
  );

  // The first send of a new container pays for the client's lazy set-up.
  const coldStarted = performance.now();
  await handler(originResponse("gcs", { uri: "/bench/first" }), CONTEXT);
  const coldFirstSend = performance.now() - coldStarted;

  const s3Hit = () => originResponse("s3");
  await timeBatches(handler, s3Hit, { batches: 20, batchSize: 1000 }); // warm-up
  const passThrough = await timeBatches(handler, s3Hit, { batches: 200, batchSize: 1000 });

  // A miss for a key this container queued a moment ago (range requests of one video).
  const repeat = () => originResponse("gcs", { uri: "/video/movie.mp4", status: "206" });
  await handler(repeat(), CONTEXT);
  const remembered = await timeBatches(handler, repeat, { batches: 200, batchSize: 1000 });

  let n = 0;
  const miss = () => originResponse("gcs", { uri: `/bench/object-${n++}.bin` });
  await timeEach(handler, miss, 200); // warm-up: connection, credentials, JIT
  const enqueue = await timeEach(handler, miss, 2000);
  // Every distinct key once: the first, 200 warm-up, 2000 timed and the remembered one.
  const queued = (await sqs.drain(queue.url, 2202)).length;

  const fmt = (ms) => `${ms.toFixed(4)} ms`.padStart(12);
  const verdict = (ok) => (ok ? "met" : "MISSED");
  const rows = [
    ["path", "median", "p99", "goal"],
    ["pass-through (S3 origin)", fmt(quantile(passThrough, 0.5)), fmt(quantile(passThrough, 0.99)), `median < ${PASS_THROUGH_GOAL_MS} ms: ${verdict(quantile(passThrough, 0.5) < PASS_THROUGH_GOAL_MS)}`],
    ["GCS miss, key remembered", fmt(quantile(remembered, 0.5)), fmt(quantile(remembered, 0.99)), ""],
    ["first send of a new client (once)", fmt(coldFirstSend), "", ""],
    ["enqueue (GCS miss -> SendMessage)", fmt(quantile(enqueue, 0.5)), fmt(quantile(enqueue, 0.99)), `p99 < ${ENQUEUE_P99_GOAL_MS} ms: ${verdict(quantile(enqueue, 0.99) < ENQUEUE_P99_GOAL_MS)}`],
  ];
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  for (const row of rows) console.log(row.map((cell, c) => cell.padEnd(widths[c])).join("  ").trimEnd());
  console.log(
    `node ${process.version}, ${availableParallelism()} CPUs, load average ${loadavg()[0].toFixed(1)}; pass-through and remembered: 200 batches of 1000 calls (per-call average per batch); ` +
      `enqueue: 2000 sends after 200 warm-up, ${queued} messages received back, ${failures} failures.`,
  );
  if (queued !== 2202 || failures > 0) process.exitCode = 1;
} finally {
  await sqs.close();
}
