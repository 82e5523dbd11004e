// The deployed bundle is index.mjs plus a settings.mjs the CDK stack writes at synth.
// These tests build such a bundle in a temporary folder and run its exported `handler`
// in a fresh Node process, configured only the way Lambda@Edge allows (no environment
// variables of ours; AWS_ENDPOINT_URL_SQS stands in for the real regional endpoint).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, copyFile, writeFile, readFile, rm, symlink, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { originResponse, responseOf, startSqsStandIn, CONTEXT, TEST_CREDENTIALS } from "./helpers.mjs";

const edgeDir = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const MAX_BUNDLE_BYTES = 20 * 1024;

let sqs;
const bundles = [];
before(async () => {
  sqs = await startSqsStandIn();
});
after(async () => {
  await sqs.close();
  for (const dir of bundles) await rm(dir, { recursive: true, force: true });
});

// What the stack does: copy index.mjs, write settings.mjs. The SDK comes from the
// runtime there; here from this package's node_modules.
async function buildBundle(settings) {
  const dir = await mkdtemp(path.join(tmpdir(), "edge-bundle-"));
  bundles.push(dir);
  await copyFile(path.join(edgeDir, "index.mjs"), path.join(dir, "index.mjs"));
  await writeFile(path.join(dir, "settings.mjs"), `export default ${JSON.stringify(settings, null, 2)};\n`);
  await symlink(path.join(edgeDir, "node_modules"), path.join(dir, "node_modules"), "dir");
  return dir;
}

const RUNNER = `
const { handler } = await import(process.env.BUNDLE_INDEX);
const returned = await handler(JSON.parse(process.env.EVENT), JSON.parse(process.env.LAMBDA_CONTEXT));
console.log(JSON.stringify({ returned }));
`;

// Runs the bundle's handler once in a clean process; returns its stdout lines, parsed.
async function invokeBundle(dir, event) {
  const { stdout } = await promisify(execFile)(process.execPath, ["--no-warnings", "--input-type=module", "-e", RUNNER], {
    env: {
      PATH: process.env.PATH,
      AWS_ENDPOINT_URL_SQS: sqs.endpoint,
      AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
      // Keep this machine's AWS profile files out of the run.
      AWS_CONFIG_FILE: path.join(dir, "no-config"),
      AWS_SHARED_CREDENTIALS_FILE: path.join(dir, "no-credentials"),
      BUNDLE_INDEX: path.join(dir, "index.mjs"),
      EVENT: JSON.stringify(event),
      LAMBDA_CONTEXT: JSON.stringify(CONTEXT),
    },
    timeout: 20_000,
  });
  const lines = stdout.trimEnd().split("\n");
  // Every line the handler prints is one JSON document.
  return lines.map((line) => JSON.parse(line));
}

test("index.mjs + settings.mjs stay under 20 KB", async () => {
  const bytes = (await stat(path.join(edgeDir, "index.mjs"))).size + (await stat(path.join(edgeDir, "settings.mjs"))).size;
  assert.ok(bytes < MAX_BUNDLE_BYTES, `bundle is ${bytes} bytes`);
});

test("index.mjs imports only the runtime's SDK, Node built-ins and ./settings.mjs", async () => {
  const source = await readFile(path.join(edgeDir, "index.mjs"), "utf8");
  const specifiers = [...source.matchAll(/^\s*import\s[^;]*?from\s+"([^"]+)"/gm), ...source.matchAll(/import\(\s*"([^"]+)"\s*\)/g)].map((m) => m[1]);
  assert.ok(specifiers.includes("./settings.mjs"));
  for (const specifier of specifiers) {
    assert.ok(
      specifier === "./settings.mjs" || specifier === "@aws-sdk/client-sqs" || specifier.startsWith("node:"),
      `unexpected import ${specifier}`,
    );
  }
});

test("a bundle with baked settings queues a GCS miss in the queue's region and prints JSON lines", async () => {
  const queue = await sqs.createQueue();
  const dir = await buildBundle({
    queueName: queue.name,
    queueRegion: "eu-west-1",
    sourceDomainName: "storage.googleapis.com",
    includePrefixes: ["img/"],
    excludeSuffixes: [".tmp"],
  });
  const event = originResponse("gcs", { uri: "/img/a%20b+c.png" });
  const sendsBefore = sqs.sends.length;

  const lines = await invokeBundle(dir, event);

  assert.deepEqual(lines.at(-1).returned, responseOf(event));
  const logs = lines.slice(0, -1);
  assert.equal(logs.length, 2);
  assert.equal(logs[0].Origin, "GCS", "the origin-fetch metric line comes first");
  assert.equal(logs[0].OriginFetches, 1);
  assert.equal(logs[1].msg, "queued");
  const newSends = sqs.sends.slice(sendsBefore);
  assert.equal(newSends.length, 1);
  // SigV4 scope names the region the client was created in.
  assert.match(newSends[0].authorization, /\/eu-west-1\/sqs\/aws4_request/);
  const messages = await sqs.drain(queue.url, 1);
  assert.deepEqual(
    messages.map((m) => m.body.key),
    ["img/a b+c.png"],
  );
});

test("a bundle with baked settings passes S3 responses through with only the origin-fetch metric", async () => {
  const queue = await sqs.createQueue();
  const dir = await buildBundle({ queueName: queue.name, queueRegion: "us-east-1", sourceDomainName: "storage.googleapis.com", includePrefixes: [], excludeSuffixes: [] });
  const event = originResponse("s3");
  const lines = await invokeBundle(dir, event);
  assert.equal(lines.length, 2);
  assert.equal(lines[0].Origin, "S3");
  assert.equal(lines[0]._aws.CloudWatchMetrics[0].Metrics[0].Name, "OriginFetches");
  assert.deepEqual(lines[1], { returned: responseOf(event) });
  assert.deepEqual(await sqs.drain(queue.url, 0), []);
});

test("a bundle with invalid settings logs why once and passes every response through", async () => {
  const dir = await buildBundle({ queueName: "not-a-fifo-queue", queueRegion: "us-east-1", sourceDomainName: "storage.googleapis.com", includePrefixes: [], excludeSuffixes: [] });
  const event = originResponse("gcs");
  const sendsBefore = sqs.sends.length;
  const lines = await invokeBundle(dir, event);
  assert.equal(lines.length, 2);
  assert.equal(lines[0].level, "error");
  assert.match(lines[0].error, /queueName/);
  assert.deepEqual(lines[1].returned, responseOf(event));
  assert.equal(sqs.sends.length, sendsBefore);
});
