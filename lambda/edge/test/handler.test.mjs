// What lands in the queue for each kind of origin response, and that the viewer's
// response is returned as it came, against a real SQS stand-in.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHandler } from "../index.mjs";
import { originResponse, responseOf, startSqsStandIn, captureLog, sha256Hex, CONTEXT } from "./helpers.mjs";

const baseSettings = {
  queueName: "unused.fifo",
  queueRegion: "us-east-1",
  sourceDomainName: "storage.googleapis.com",
  includePrefixes: [],
  excludeSuffixes: [],
};
const ETAG = '"9b2cf535f27731c974343645a3985328"';
const GENERATION = "1700000000123456";

let sqs;
before(async () => {
  sqs = await startSqsStandIn();
});
after(async () => {
  await sqs.close();
});

// Runs one event through a fresh handler with its own queue; checks the response is
// untouched and returns what reached the queue and the log.
async function run(event, { expect, settings = {}, deps = {}, context = CONTEXT } = {}) {
  const queue = await sqs.createQueue();
  const { entries, log } = captureLog();
  const handler = createHandler({ ...baseSettings, queueName: queue.name, ...settings }, { ...sqs.handlerDeps, log, ...deps });
  const sendsBefore = sqs.sends.length;
  const expected = structuredClone(responseOf(event));

  const returned = await handler(event, context);

  assert.equal(returned, responseOf(event), "the very response object is returned");
  assert.deepEqual(returned, expected, "the response is unchanged");
  const messages = await sqs.drain(queue.url, expect);
  return { messages, logs: entries, sends: sqs.sends.length - sendsBefore, queue };
}

async function assertQueued(event, expectedBody, options) {
  const result = await run(event, { ...options, expect: 1 });
  assert.equal(result.messages.length, 1, `one message, got ${JSON.stringify(result.messages)}`);
  const [message] = result.messages;
  assert.deepEqual(message.body, expectedBody);
  assert.equal(message.groupId, sha256Hex(expectedBody.key));
  assert.equal(message.dedupId, sha256Hex(expectedBody.key));
  assert.equal(result.sends, 1);
  return result;
}

async function assertNothingQueued(event, options) {
  const result = await run(event, { ...options, expect: 0 });
  assert.deepEqual(result.messages, []);
  assert.equal(result.sends, 0, "no SendMessage reached the queue");
  return result;
}

const full = (key, size = 1234) => ({ v: 1, key, size, generation: GENERATION, etag: ETAG });

test("S3 origin 200: passed through, nothing queued, nothing logged", async () => {
  const { logs } = await assertNothingQueued(originResponse("s3"));
  assert.deepEqual(logs, []);
});

test("S3 origin 404: passed through, nothing queued", async () => {
  await assertNothingQueued(originResponse("s3", { status: "404" }));
});

test("S3 origin whose domain is not the GCS domain is never queued, even on 200 from a custom origin", async () => {
  const event = originResponse("gcs");
  event.Records[0].cf.request.origin.custom.domainName = "example-bucket.s3-website-us-east-1.amazonaws.com";
  await assertNothingQueued(event);
});

test("GCS 200: key, size, generation and etag queued; one info log line", async () => {
  const { logs } = await assertQueued(originResponse("gcs"), full("img/cat.png"));
  assert.equal(logs.length, 1);
  assert.equal(logs[0].level, "info");
  assert.equal(logs[0].key, "img/cat.png");
  assert.equal(typeof logs[0].messageId, "string");
});

test("GCS 200 without x-goog-stored-content-length: size from Content-Length", async () => {
  const event = originResponse("gcs", {
    headers: ({ "x-goog-stored-content-length": _, ...rest }) => ({ ...rest, "content-length": [{ key: "Content-Length", value: "555" }] }),
  });
  await assertQueued(event, full("img/cat.png", 555));
});

test("GCS 206: total size, not the range length", async () => {
  await assertQueued(originResponse("gcs", { status: "206" }), full("img/cat.png"));
});

test("GCS 206 without x-goog-stored-content-length: total size from Content-Range", async () => {
  const event = originResponse("gcs", {
    status: "206",
    headers: ({ "x-goog-stored-content-length": _, ...rest }) => ({ ...rest, "content-range": [{ key: "Content-Range", value: "bytes 100-199/98765" }] }),
  });
  await assertQueued(event, full("img/cat.png", 98765));
});

test("GCS 304: queued without a size (the object is still in GCS)", async () => {
  const event = originResponse("gcs", {
    status: "304",
    headers: ({ "x-goog-stored-content-length": _, ...rest }) => rest,
  });
  await assertQueued(event, { v: 1, key: "img/cat.png", generation: GENERATION, etag: ETAG });
});

test("GCS 200 without object headers: only the key is queued", async () => {
  const event = originResponse("gcs", {
    headers: (all) => ({ date: all.date, server: all.server, "content-type": all["content-type"] }),
  });
  await assertQueued(event, { v: 1, key: "img/cat.png" });
});

test("GCS 200 with unusable size and generation headers: those fields are left out", async () => {
  const event = originResponse("gcs", {
    headers: (all) => ({
      ...all,
      "x-goog-stored-content-length": [{ key: "x-goog-stored-content-length", value: "-1" }],
      "x-goog-generation": [{ key: "x-goog-generation", value: "abc" }],
    }),
  });
  await assertQueued(event, { v: 1, key: "img/cat.png", etag: ETAG });
});

test("GCS 404: nothing queued", async () => {
  await assertNothingQueued(originResponse("gcs", { status: "404" }));
});

test("GCS 500: nothing queued", async () => {
  await assertNothingQueued(originResponse("gcs", { status: "500" }));
});

test("GCS 403: nothing queued", async () => {
  await assertNothingQueued(originResponse("gcs", { status: "403" }));
});

test("GCS 200 to a HEAD request: queued", async () => {
  await assertQueued(originResponse("gcs", { method: "HEAD" }), full("img/cat.png"));
});

test("GCS 200 to an OPTIONS preflight: nothing queued", async () => {
  await assertNothingQueued(originResponse("gcs", { method: "OPTIONS" }));
});

test("key with spaces and a literal +: %20 decoded, + kept", async () => {
  await assertQueued(originResponse("gcs", { uri: "/img/a%20b+c.png" }), full("img/a b+c.png"));
});

test("unicode key: UTF-8 percent escapes become characters", async () => {
  await assertQueued(originResponse("gcs", { uri: "/%E6%97%A5%E6%9C%AC/caf%C3%A9%20%F0%9F%98%80.txt" }), full("日本/café 😀.txt"));
});

test("%2B becomes +", async () => {
  await assertQueued(originResponse("gcs", { uri: "/a%2Bb.txt" }), full("a+b.txt"));
});

test("%2F becomes /", async () => {
  await assertQueued(originResponse("gcs", { uri: "/dir%2Fsub%2Ffile.txt" }), full("dir/sub/file.txt"));
});

test("decoded exactly once: %2541 becomes %41, not A", async () => {
  await assertQueued(originResponse("gcs", { uri: "/100%2541.txt" }), full("100%41.txt"));
});

test("%3F becomes a literal ? in the key", async () => {
  await assertQueued(originResponse("gcs", { uri: "/what%3F.txt" }), full("what?.txt"));
});

test("a 1024-byte key is queued whole", async () => {
  const key = `${"k".repeat(1020)}éé`; // 1020 + 2 x 2 bytes
  assert.equal(Buffer.byteLength(key), 1024);
  const { messages } = await assertQueued(originResponse("gcs", { uri: `/${encodeURIComponent(key)}` }), full(key));
  assert.equal(Buffer.byteLength(messages[0].body.key), 1024);
});

test("a 1025-byte key is skipped with one warning", async () => {
  const key = "k".repeat(1025);
  const { logs } = await assertNothingQueued(originResponse("gcs", { uri: `/${key}` }));
  assert.equal(logs.length, 1);
  assert.equal(logs[0].level, "warn");
});

for (const [name, uri] of [
  ["a truncated escape", "/bad%E0%A4%A.txt"],
  ["an escape that is not UTF-8", "/bad%FF.txt"],
  ["an encoded lone surrogate", "/bad%ED%A0%80.txt"],
  ["an empty key", "/"],
]) {
  test(`undecodable key (${name}): skipped, logged, never thrown`, async () => {
    const { logs } = await assertNothingQueued(originResponse("gcs", { uri }));
    assert.equal(logs.length, 1);
    assert.equal(logs[0].level, "warn");
    assert.equal(logs[0].uri, uri);
  });
}

test("query string on the request: not part of the key", async () => {
  await assertQueued(originResponse("gcs", { uri: "/img/cat.png", querystring: "v=2&size=large" }), full("img/cat.png"));
});

test("include prefixes and exclude suffixes decide which keys are queued", async () => {
  const settings = { includePrefixes: ["img/", "日本/"], excludeSuffixes: [".tmp", ".part"] };
  await assertQueued(originResponse("gcs", { uri: "/img/cat.png" }), full("img/cat.png"), { settings });
  await assertQueued(originResponse("gcs", { uri: "/%E6%97%A5%E6%9C%AC/a.png" }), full("日本/a.png"), { settings });
  await assertNothingQueued(originResponse("gcs", { uri: "/docs/a.pdf" }), { settings });
  await assertNothingQueued(originResponse("gcs", { uri: "/img/upload.tmp" }), { settings });
  await assertNothingQueued(originResponse("gcs", { uri: "/img%2Fupload.part" }), { settings });
});

test("rule lists that are null (a nil Go slice) or missing mean every key", async () => {
  await assertQueued(originResponse("gcs"), full("img/cat.png"), { settings: { includePrefixes: null, excludeSuffixes: null } });
  await assertQueued(originResponse("gcs"), full("img/cat.png"), { settings: { includePrefixes: undefined, excludeSuffixes: undefined } });
});

test("an injected queue URL wins over the one built from the function ARN", async () => {
  const injected = await sqs.createQueue();
  const { messages } = await run(originResponse("gcs"), { expect: 0, deps: { queueUrl: injected.url } });
  assert.deepEqual(messages, [], "nothing in the queue named by settings");
  const inInjected = await sqs.drain(injected.url, 1);
  assert.deepEqual(
    inInjected.map((m) => m.body),
    [full("img/cat.png")],
  );
});

test("no account id in the context and no injected URL: nothing sent, one error line", async () => {
  const { logs } = await assertNothingQueued(originResponse("gcs"), { context: {} });
  assert.equal(logs.length, 1);
  assert.equal(logs[0].level, "error");
  assert.match(logs[0].msg, /invokedFunctionArn/);
});

test("a malformed event is returned as it is, without throwing", async () => {
  const handler = createHandler(baseSettings, { ...sqs.handlerDeps, log: () => {} });
  assert.equal(await handler({}, CONTEXT), undefined);
  const noResponse = { Records: [{ cf: { request: { origin: { custom: { domainName: "storage.googleapis.com" } } } } }] };
  assert.equal(await handler(noResponse, CONTEXT), undefined);
  const event = originResponse("gcs");
  delete event.Records[0].cf.request.uri;
  assert.equal(await handler(event, CONTEXT), responseOf(event));
});

test("invalid settings are rejected with the reason", () => {
  const cases = [
    [{ queueName: "transfer" }, /queueName/],
    [{ queueName: "has space.fifo" }, /queueName/],
    [{ queueRegion: "US East" }, /queueRegion/],
    [{ sourceDomainName: "" }, /sourceDomainName/],
    [{ includePrefixes: "img/" }, /includePrefixes/],
    [{ excludeSuffixes: [""] }, /excludeSuffixes/],
  ];
  for (const [override, reason] of cases) {
    assert.throws(() => createHandler({ ...baseSettings, ...override }), (err) => err instanceof TypeError && reason.test(err.message));
  }
  assert.doesNotThrow(() => createHandler({ ...baseSettings, queueRegion: "us-gov-west-1" }));
});

test("a virtual-hosted source is recognised by its host after the bucket label, nothing else", async () => {
  const { sourceMatcher } = await import("../index.mjs");
  const virtual = sourceMatcher("{bucket}.s3.example.com");
  assert.equal(virtual("legacy.s3.example.com"), true);
  assert.equal(virtual("s3.example.com"), false, "no bucket label");
  assert.equal(virtual("a.b.s3.example.com"), false, "two labels are not one bucket");
  assert.equal(virtual("legacys3.example.com"), false, "the dot belongs to the suffix");
  const pathStyle = sourceMatcher("storage.googleapis.com");
  assert.equal(pathStyle("storage.googleapis.com"), true);
  assert.equal(pathStyle("x.storage.googleapis.com"), false);
});
