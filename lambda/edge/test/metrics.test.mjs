// The origin-fetch metric: one EMF line per fetch that served the viewer, by origin, and
// none for a primary 403/404 that CloudFront fails over from.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHandler } from "../index.mjs";
import { originResponse, startSqsStandIn, captureLog, CONTEXT } from "./helpers.mjs";

let sqs;
before(async () => {
  sqs = await startSqsStandIn();
});
after(async () => {
  await sqs.close();
});

async function metricsFor(event) {
  const queue = await sqs.createQueue();
  const lines = [];
  const { log } = captureLog();
  const handler = createHandler(
    { queueName: queue.name, queueRegion: "us-east-1", sourceDomainName: "storage.googleapis.com", includePrefixes: [], excludeSuffixes: [] },
    { ...sqs.handlerDeps, log, metric: (line) => lines.push(line), now: () => 1700000000123 },
  );
  await handler(event, CONTEXT);
  return lines.map((line) => JSON.parse(line));
}

for (const [origin, name] of [["s3", "S3"], ["gcs", "GCS"]]) {
  for (const status of ["200", "206", "304"]) {
    test(`a ${status} from ${name} is one OriginFetches line with Origin=${name}`, async () => {
      const docs = await metricsFor(originResponse(origin, { status }));
      assert.deepEqual(docs, [
        {
          _aws: {
            Timestamp: 1700000000123,
            CloudWatchMetrics: [{ Namespace: "BackToOrigin", Dimensions: [["Origin"]], Metrics: [{ Name: "OriginFetches", Unit: "Count" }] }],
          },
          Origin: name,
          OriginFetches: 1,
        },
      ]);
    });
  }
  for (const status of ["403", "404", "500"]) {
    test(`a ${status} from ${name} served nothing and is not counted`, async () => {
      assert.deepEqual(await metricsFor(originResponse(origin, { status })), []);
    });
  }
}

test("a metric write that throws does not reach the viewer", async () => {
  const handler = createHandler(
    { queueName: "q.fifo", queueRegion: "us-east-1", sourceDomainName: "storage.googleapis.com", includePrefixes: [], excludeSuffixes: [] },
    {
      metric: () => {
        throw new Error("EPIPE");
      },
    },
  );
  const event = originResponse("s3");
  assert.equal(await handler(event, CONTEXT), event.Records[0].cf.response);
});
