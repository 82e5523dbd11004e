// The origin-request function on the documented event shape (CloudFront Developer Guide,
// "Lambda@Edge event structure", origin request example:
// https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/lambda-event-structure.html):
// the S3 request untouched, the source request signed, and the signature checked by a real
// SigV4 verifier, versitygw serving a private bucket on 127.0.0.1.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import http from "node:http";
import net from "node:net";
import { randomBytes } from "node:crypto";
import { createHandler, canonicalPath } from "../origin-request.mjs";
import { startSecretsStandIn } from "./secrets-standin.mjs";

const fixture = (name) => JSON.parse(readFileSync(new URL(`./fixtures/${name}.json`, import.meta.url), "utf8"));
const SOURCE_HOST = "storage.googleapis.com"; // as in the fixture; versitygw verifies against the Host sent
const BUCKET = "example-gcs-bucket"; // the fixture's origin path
const KEY = { accessKeyId: "GOOGTS7C7FUP3AIRVJTE2BCD", secretAccessKey: randomBytes(20).toString("base64") };
const SETTINGS = { sourceDomainName: SOURCE_HOST, sourceRegion: "us-east-1", secretId: "backtoorigin/source-hmac", secretRegion: "us-east-1" };
const OBJECTS = { "img/cat.png": "meow", "a b+c (1)ü.txt": "odd key" };

function sourceEvent(uri) {
  const event = fixture("origin-request-source");
  if (uri !== undefined) event.Records[0].cf.request.uri = uri;
  return event;
}
const requestOf = (event) => event.Records[0].cf.request;

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

let gw;
before(async () => {
  const bin = new URL("../../../.tools/bin/versitygw", import.meta.url).pathname;
  assert.ok(existsSync(bin), `versitygw is missing at ${bin}: run make tools`);
  const dir = mkdtempSync(join(tmpdir(), "origin-request-"));
  for (const [key, body] of Object.entries(OBJECTS)) {
    const file = join(dir, BUCKET, key);
    mkdirSync(join(file, ".."), { recursive: true });
    writeFileSync(file, body);
  }
  const port = await freePort();
  const proc = spawn(bin, ["--port", `127.0.0.1:${port}`, "--region", "us-east-1", "--quiet", "posix", dir], {
    env: { ...process.env, ROOT_ACCESS_KEY_ID: KEY.accessKeyId, ROOT_SECRET_ACCESS_KEY: KEY.secretAccessKey },
    stdio: "ignore",
  });
  for (let i = 0; ; i++) {
    const up = await new Promise((resolve) => net.connect(port, "127.0.0.1").on("connect", function () { this.end(); resolve(true); }).on("error", () => resolve(false)));
    if (up) break;
    if (i > 200) throw new Error("versitygw did not start");
    await new Promise((r) => setTimeout(r, 50));
  }
  gw = { port, close: () => { proc.kill(); rmSync(dir, { recursive: true, force: true }); } };
});
after(() => gw?.close());

// Sends the request as CloudFront would: to the origin, at origin path + uri, with the
// request's headers (Host included).
function fetchAsCloudFront(request) {
  const headers = {};
  for (const values of Object.values(request.headers)) headers[values[0].key] = values.map((v) => v.value).join(", ");
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port: gw.port, method: request.method, path: request.origin.custom.path + request.uri, headers }, (res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

function captureLog() {
  const entries = [];
  return { entries, log: (e) => entries.push(e) };
}

test("the S3 origin's request is returned untouched and no key is read", async () => {
  let reads = 0;
  const handler = createHandler(SETTINGS, { readSecret: async () => (reads++, KEY) });
  const event = fixture("origin-request-s3");
  const before = structuredClone(requestOf(event));
  const returned = await handler(event);
  assert.equal(returned, requestOf(event));
  assert.deepEqual(returned, before);
  assert.equal(reads, 0);
});

test("another custom origin is not signed either", async () => {
  const handler = createHandler(SETTINGS, { readSecret: async () => KEY });
  const event = sourceEvent();
  requestOf(event).origin.custom.domainName = "storage.googleapis.com.example.net";
  const before = structuredClone(requestOf(event));
  assert.deepEqual(await handler(event), before);
});

test("the source origin's request is signed over host and x-amz-* only, and a real SigV4 verifier accepts it", async () => {
  const unsigned = await fetchAsCloudFront(requestOf(sourceEvent()));
  assert.equal(unsigned.status, 403, "the private source refuses an unsigned read");

  const handler = createHandler(SETTINGS, { readSecret: async () => KEY });
  const event = sourceEvent();
  requestOf(event).headers["accept-encoding"] = [{ key: "Accept-Encoding", value: "gzip" }];
  requestOf(event).headers.range = [{ key: "Range", value: "bytes=0-1" }];
  const request = await handler(event);
  const auth = request.headers.authorization[0].value;
  assert.match(auth, new RegExp(`^AWS4-HMAC-SHA256 Credential=${KEY.accessKeyId}/\\d{8}/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=[0-9a-f]{64}$`));
  assert.equal(request.headers["x-amz-content-sha256"][0].value, "UNSIGNED-PAYLOAD");
  // What Google rewrites, or CloudFront widens, is sent but not signed; changing it breaks nothing.
  request.headers["accept-encoding"][0].value = "gzip, br";
  request.headers.range[0].value = "bytes=0-3";
  const got = await fetchAsCloudFront(request);
  assert.equal(got.status, 206, got.body);
  assert.equal(got.body, "meow");
});

test("a tampered signature, path or key id is refused by the verifier", async () => {
  const handler = createHandler(SETTINGS, { readSecret: async () => KEY });
  for (const tamper of [
    (r) => (r.headers.authorization[0].value = r.headers.authorization[0].value.replace(/Signature=(.)/, (_, c) => `Signature=${c === "0" ? "1" : "0"}`)),
    (r) => (r.uri = "/img/dog.png"),
    (r) => (r.headers["x-amz-date"][0].value = "20200101T000000Z"),
  ]) {
    const request = await handler(sourceEvent());
    tamper(request);
    const got = await fetchAsCloudFront(request);
    assert.equal(got.status, 403, `${tamper}: ${got.body}`);
  }
});

test("the path is signed as CloudFront forwards it, escapes kept once, and the verifier agrees", async () => {
  assert.equal(canonicalPath("/a%20b%2Bc%20(1)%c3%bc.txt"), "/a%20b%2Bc%20%281%29%C3%BC.txt");
  assert.equal(canonicalPath("/%7Euser/%41"), "/~user/A");
  assert.equal(canonicalPath("/a+b ü"), "/a%2Bb%20%C3%BC");
  const handler = createHandler(SETTINGS, { readSecret: async () => KEY });
  // After the viewer-request function: "+" is %2B, the rest as the viewer escaped it.
  for (const uri of ["/a%20b%2Bc%20(1)%C3%BC.txt", "/a%20b%2Bc%20%281%29%c3%bc.txt"]) {
    const request = await handler(sourceEvent(uri));
    const got = await fetchAsCloudFront(request);
    assert.equal(got.status, 200, `${uri}: ${got.body}`);
    assert.equal(got.body, "odd key");
  }
});

test("a signing failure passes the request on unsigned, logs one line, and never throws", async () => {
  const { entries, log } = captureLog();
  const handler = createHandler(SETTINGS, { readSecret: async () => { throw new Error("AccessDeniedException"); }, log });
  const event = sourceEvent();
  const before = structuredClone(requestOf(event));
  assert.deepEqual(await handler(event), before);
  assert.equal(entries.length, 1);
  assert.match(entries[0].msg, /unsigned/);
  // A malformed escape cannot be signed faithfully: unsigned too, not a crash.
  const bad = sourceEvent("/bad%zz");
  const handler2 = createHandler(SETTINGS, { readSecret: async () => KEY, log });
  assert.equal((await handler2(bad)).headers.authorization, undefined);
  assert.equal(entries.length, 2);
});

test("the secret read is bounded, and after a failure requests do not wait again at once", async () => {
  const { entries, log } = captureLog();
  const hang = { send: () => new Promise(() => {}) };
  const handler = createHandler(SETTINGS, { secretsClient: hang, secretDeadlineMs: 200, log });
  let t = Date.now();
  await handler(sourceEvent());
  const first = Date.now() - t;
  assert.ok(first >= 190 && first < 1000, `first call took ${first} ms`);
  t = Date.now();
  await handler(sourceEvent());
  assert.ok(Date.now() - t < 50, "the second call waited for another read");
  assert.equal(entries.length, 2);
});

test("the key is read from Secrets Manager once per container, and a rotated key is picked up after the TTL", async () => {
  const sm = await startSecretsStandIn();
  const saved = { ...process.env };
  Object.assign(process.env, { AWS_ENDPOINT_URL_SECRETS_MANAGER: sm.endpoint, AWS_ACCESS_KEY_ID: "local", AWS_SECRET_ACCESS_KEY: "local" });
  try {
    sm.put(SETTINGS.secretId, KEY);
    let clock = 1_700_000_000_000;
    const handler = createHandler(SETTINGS, { now: () => clock, keyTtlMs: 60_000 });
    const credentialOf = (r) => /Credential=([^/]+)\//.exec(r.headers.authorization[0].value)[1];
    const signed = await Promise.all([handler(sourceEvent()), handler(sourceEvent())]);
    assert.deepEqual(signed.map(credentialOf), [KEY.accessKeyId, KEY.accessKeyId]);
    assert.equal(sm.calls.length, 1, "concurrent first calls share one read");
    assert.match(sm.calls[0].authorization ?? "", /^AWS4-HMAC-SHA256 .*\/us-east-1\/secretsmanager\//, "read in the secret's region with the function's role");

    sm.put(SETTINGS.secretId, { accessKeyId: "GOOGROTATED", secretAccessKey: "x" });
    clock += 59_000;
    assert.equal(credentialOf(await handler(sourceEvent())), KEY.accessKeyId, "cached within the TTL");
    clock += 2_000;
    assert.equal(credentialOf(await handler(sourceEvent())), "GOOGROTATED", "the rotated key after the TTL");
    assert.equal(sm.calls.length, 2);
  } finally {
    process.env = saved;
    await sm.close();
  }
});
