// Local harness only (never deployed): runs the staged Lambda@Edge
// origin-response handler for the Go front in local/front.
//
// Protocol: one JSON request per line on stdin, {"id":N,"event":{...},"context":{...}},
// one JSON reply per line on file descriptor 3, {"id":N,"result":{...}} or
// {"id":N,"error":"..."}. Replies go to fd 3, not stdout, so the handler's own
// console output stays on stdout/stderr exactly as in Lambda.
//
// Requests are handled concurrently, like concurrent Lambda@Edge invocations
// sharing one warm container, which is what the handler's per-container state
// (SQS client, recently-queued keys) is designed for.
//
// Usage: node runner.mjs <staged dir> [queue URL]
// With a queue URL the handler is built with createHandler(settings, {queueUrl}),
// the seam the handler offers for local runs; without one, its exported
// Lambda entry point `handler` is used as is.
import { writeSync } from "node:fs";
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";
import { join } from "node:path";

const [dir, queueUrl] = process.argv.slice(2);
const mod = await import(pathToFileURL(join(dir, "index.mjs")).href);
let handler = mod.handler;
if (queueUrl) {
  const settings = (await import(pathToFileURL(join(dir, "settings.mjs")).href)).default;
  handler = mod.createHandler(settings, { queueUrl });
}
if (typeof handler !== "function") {
  throw new Error("the staged index.mjs exports no handler function");
}

function reply(obj) {
  writeSync(3, JSON.stringify(obj) + "\n");
}

// Supports both async handlers and callback-style ones.
function invoke(event, context) {
  return new Promise((resolve, reject) => {
    const ret = handler(event, context, (err, value) => (err ? reject(err) : resolve(value)));
    if (ret && typeof ret.then === "function") ret.then(resolve, reject);
  });
}

function lambdaContext(c) {
  const deadline = Date.now() + (c.timeoutMs || 30000);
  return {
    functionName: c.functionName,
    functionVersion: c.functionVersion,
    invokedFunctionArn: c.invokedFunctionArn,
    memoryLimitInMB: String(c.memoryLimitInMB || 128),
    awsRequestId: c.awsRequestId,
    logGroupName: `/aws/lambda/us-east-1.${c.functionName}`,
    logStreamName: "local",
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
}

reply({ id: 0, ready: true });

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
lines.on("line", (line) => {
  if (!line.trim()) return;
  let req;
  try {
    req = JSON.parse(line);
  } catch (err) {
    reply({ id: -1, error: `bad request line: ${err.message}` });
    return;
  }
  invoke(req.event, lambdaContext(req.context || {})).then(
    (result) => reply({ id: req.id, result }),
    (err) => reply({ id: req.id, error: String((err && err.stack) || err) }),
  );
});
// stdin closed: the Go side is shutting down. Exit without waiting for
// timers the handler may hold (its recent-keys memory).
lines.on("close", () => process.exit(0));
