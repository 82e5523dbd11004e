// Shared test plumbing: origin-response events built from the fixtures, and a real SQS
// stand-in (local-aws-sqs) on 127.0.0.1 on a port chosen at run time.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import net from "node:net";
import {
  SQSClient,
  CreateQueueCommand,
  ReceiveMessageCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
} from "@aws-sdk/client-sqs";
import { createSqsServer } from "local-aws-sqs";

// AWS's documentation placeholder account, not a real one.
export const ACCOUNT_ID = "111122223333";
// Replicas of a Lambda@Edge function are named "us-east-1.<name>" in every region.
export const CONTEXT = Object.freeze({
  invokedFunctionArn: `arn:aws:lambda:us-east-1:${ACCOUNT_ID}:function:us-east-1.BackToOriginEdge-origin-response:3`,
  functionName: "us-east-1.BackToOriginEdge-origin-response",
});
// Not frozen: the SDK tags the credentials object it is given.
export const TEST_CREDENTIALS = { accessKeyId: "test", secretAccessKey: "test" };

const fixtures = {
  gcs: JSON.parse(readFileSync(new URL("./fixtures/origin-response-gcs.json", import.meta.url), "utf8")),
  s3: JSON.parse(readFileSync(new URL("./fixtures/origin-response-s3.json", import.meta.url), "utf8")),
};

const STATUS_TEXT = { 200: "OK", 206: "Partial Content", 304: "Not Modified", 403: "Forbidden", 404: "Not Found", 500: "Internal Server Error" };

const h = (key, value) => [{ key, value }];

// Response headers as each origin sends them for a status.
function responseHeaders(origin, status, base) {
  if (status === "200") return base;
  if (status === "206") {
    return { ...base, "content-length": h("Content-Length", "100"), "content-range": h("Content-Range", "bytes 0-99/1234") };
  }
  if (status === "304") {
    const { "content-length": _l, "content-type": _t, "accept-ranges": _a, ...rest } = base;
    return rest;
  }
  // Error responses carry no object headers.
  const error = {
    "content-type": h("Content-Type", "application/xml; charset=UTF-8"),
    "content-length": h("Content-Length", "127"),
    date: base.date,
    server: base.server,
  };
  if (origin === "gcs") error["x-guploader-uploadid"] = h("X-GUploader-UploadID", "ABPtcPp-example");
  return error;
}

/**
 * An origin-response event from the GCS ("gcs") or S3 ("s3") fixture.
 * options: uri, status ("200"...), method, querystring, headers(h) => headers.
 */
export function originResponse(origin, { uri, status = "200", method, querystring, headers } = {}) {
  const event = structuredClone(fixtures[origin]);
  const cf = event.Records[0].cf;
  if (uri !== undefined) cf.request.uri = uri;
  if (method !== undefined) cf.request.method = method;
  if (querystring !== undefined) cf.request.querystring = querystring;
  cf.response.status = status;
  cf.response.statusDescription = STATUS_TEXT[status];
  cf.response.headers = responseHeaders(origin, status, cf.response.headers);
  if (headers) cf.response.headers = headers(cf.response.headers);
  return event;
}

export const responseOf = (event) => event.Records[0].cf.response;

let queueCounter = 0;
export const uniqueQueueName = (prefix = "t") => `${prefix}-${process.pid}-${++queueCounter}.fifo`;

/**
 * Starts local-aws-sqs on 127.0.0.1:<free port> and records the SendMessage calls that
 * reach it. `sends` holds one entry per SDK call (its retries share the
 * amz-sdk-invocation-id header), so a retry under load is not mistaken for a second call.
 */
export async function startSqsStandIn() {
  const server = await createSqsServer({ port: 0, hostname: "127.0.0.1", emulateQueueCreationLifecycle: false });
  const sends = [];
  const seen = new Set();
  // Observes requests next to the stand-in's own handler: what reached the server, not
  // what the client believes it sent.
  server.on("request", (req) => {
    if (req.headers["x-amz-target"] !== "AmazonSQS.SendMessage") return;
    const call = req.headers["amz-sdk-invocation-id"];
    if (call && seen.has(call)) return;
    seen.add(call);
    sends.push({ authorization: req.headers.authorization });
  });
  const endpoint = `http://127.0.0.1:${server.address().port}`;
  const client = new SQSClient({ region: "us-east-1", endpoint, credentials: TEST_CREDENTIALS });
  // Every message the queue still holds: visible, in flight or delayed. local-aws-sqs keeps a
  // new message "delayed" until a 0-second timer fires (1 ms or more after the send) and leaves
  // it out of ApproximateNumberOfMessages, so that count alone can read 0 right after a send.
  const heldMessages = async (queueUrl) => {
    const { Attributes } = await client.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesDelayed"] }),
    );
    return Number(Attributes.ApproximateNumberOfMessages) + Number(Attributes.ApproximateNumberOfMessagesDelayed);
  };

  return {
    endpoint,
    sends,
    /**
     * Handler deps pointing its own client at the stand-in. The time bounds are relaxed:
     * these tests are about what gets queued, and a loaded 2-core machine can outlast the
     * 1 s production bound (unreachable.test.mjs tests that bound with the real values).
     */
    handlerDeps: {
      sqsClientConfig: {
        endpoint,
        credentials: TEST_CREDENTIALS,
        requestHandler: { connectionTimeout: 5000, requestTimeout: 5000, throwOnRequestTimeout: true },
      },
      sendDeadlineMs: 10_000,
      // The origin-fetch metric lines (metrics.test.mjs checks them) stay out of test output.
      metric: () => {},
    },

    async createQueue(name = uniqueQueueName()) {
      const { QueueUrl } = await client.send(new CreateQueueCommand({ QueueName: name, Attributes: { FifoQueue: "true" } }));
      return { name, url: QueueUrl };
    },

    /**
     * Receives and deletes the messages in the queue: until `expected` have arrived, then on
     * while the queue still holds any, so the caller's own count assertion sees a duplicate
     * instead of having it hidden. It waits for what the test expects rather than for the queue
     * to look empty (see heldMessages), polls with receives (no sleeps), and gives up after
     * `withinMs` naming what did arrive: a lost message is a failure, never retried away.
     */
    async drain(queueUrl, expected, { withinMs = 10_000 } = {}) {
      if (!Number.isInteger(expected) || expected < 0) throw new TypeError(`drain: expected must be a count, got ${expected}`);
      const messages = [];
      const giveUp = Date.now() + withinMs;
      while (messages.length < expected || (await heldMessages(queueUrl)) > 0) {
        if (Date.now() > giveUp) {
          throw new Error(`${queueUrl}: expected ${expected} message(s) within ${withinMs} ms, received ${messages.length}: ${JSON.stringify(messages.map((m) => m.body))}`);
        }
        const { Messages = [] } = await client.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: 0,
            VisibilityTimeout: 30,
            // local-aws-sqs reads only the older AttributeNames field; real SQS reads both.
            AttributeNames: ["All"],
            MessageSystemAttributeNames: ["All"],
          }),
        );
        if (Messages.length === 0) continue;
        for (const m of Messages) {
          messages.push({
            body: JSON.parse(m.Body),
            groupId: m.Attributes?.MessageGroupId,
            dedupId: m.Attributes?.MessageDeduplicationId,
          });
        }
        const { Failed = [] } = await client.send(
          new DeleteMessageBatchCommand({
            QueueUrl: queueUrl,
            Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
          }),
        );
        if (Failed.length > 0) throw new Error(`delete failed: ${JSON.stringify(Failed)}`);
      }
      return messages;
    },

    async close() {
      client.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A TCP server that accepts connections and never answers: a hung SQS endpoint. */
export async function startBlackHole() {
  const sockets = new Set();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    endpoint: `http://127.0.0.1:${server.address().port}`,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A port on 127.0.0.1 that nothing listens on (it was free a moment ago). */
export async function closedPortEndpoint() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}`;
}

/** A log sink that keeps what the handler would have written, as parsed JSON. */
export function captureLog() {
  const entries = [];
  return { entries, log: (entry) => entries.push(JSON.parse(JSON.stringify(entry))) };
}

export const sha256Hex = (text) => createHash("sha256").update(text, "utf8").digest("hex");
