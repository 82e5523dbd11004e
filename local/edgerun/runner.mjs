// Local harness only (never deployed): hosts one edge function in one long-lived node process
// (one warm container) for the Go front in local/front.
//
// Usage, in the staging folder the Go side prepared (module paths are relative to it):
//
//   node runner.mjs function <file>
//     A CloudFront Function such as lambda/viewer-request/index.js, evaluated the way
//     CloudFront Functions treats it: a classic script (module syntax would not parse) whose
//     top-level `handler(event)` is called, in a context with the language's built-ins and
//     console only (no require, process or Buffer of node's). cloudfront-js-2.0 allows an
//     async handler; a returned promise is awaited.
//
//   node runner.mjs lambda <module> <export> [<settings module> <deps JSON>]
//     A staged Lambda@Edge bundle (the origin-response index.mjs, the origin-request
//     origin-request.mjs). Without settings the module's export runs exactly as deployed. With
//     them the handler is built with createHandler(settings, deps) from the baked settings:
//     the seam both handlers offer for local runs ({queueUrl} for the origin-response handler,
//     which would otherwise derive the real SQS URL from its ARN; {keyTtlMs} for the
//     origin-request one, so a test can wait out its key cache instead of 5 minutes).
//     Async and callback-style handlers are both supported, and each call gets a Lambda
//     context object.
//
// Protocol: one JSON request per line on stdin, {"id":N,"event":{...},"context":{...}},
// one JSON reply per line on file descriptor 3, {"id":N,"result":...} or
// {"id":N,"error":"..."}. Replies go to fd 3, not stdout, so the function's own console
// output stays on stdout/stderr exactly as deployed.
//
// Requests are handled concurrently, like concurrent invocations sharing one warm container,
// which is what the handlers' per-container state (SDK clients, recently-queued keys, the
// cached signing key) is designed for.
import { readFileSync, writeSync } from "node:fs";
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";
import { resolve } from "node:path";
import vm from "node:vm";

// loadFunction returns the CloudFront Function's handler as invoke(event).
function loadFunction(file) {
  const context = vm.createContext({ console });
  new vm.Script(readFileSync(file, "utf8"), { filename: file }).runInContext(context);
  const handler = context.handler;
  if (typeof handler !== "function") {
    throw new Error(`${file} defines no top-level function handler`);
  }
  return (event) => handler(event);
}

// loadLambda returns the Lambda@Edge handler as invoke(event, context).
async function loadLambda(file, name, settingsFile, deps) {
  const mod = await import(pathToFileURL(resolve(file)).href);
  let handler = mod[name];
  if (settingsFile) {
    const settings = (await import(pathToFileURL(resolve(settingsFile)).href)).default;
    handler = mod.createHandler(settings, JSON.parse(deps));
  }
  if (typeof handler !== "function") {
    throw new Error(`the staged ${file} exports no handler function ${name}`);
  }
  return (event, context) =>
    new Promise((resolve, reject) => {
      const ret = handler(event, lambdaContext(context), (err, value) => (err ? reject(err) : resolve(value)));
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

const [kind, ...args] = process.argv.slice(2);
let invoke;
if (kind === "function") {
  invoke = loadFunction(...args);
} else if (kind === "lambda") {
  invoke = await loadLambda(...args);
} else {
  throw new Error(`unknown function kind ${kind}: want function or lambda`);
}

function reply(obj) {
  writeSync(3, JSON.stringify(obj) + "\n");
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
  Promise.resolve()
    .then(() => invoke(req.event, req.context || {}))
    .then(
      (result) => reply({ id: req.id, result }),
      (err) => reply({ id: req.id, error: String((err && err.stack) || err) }),
    );
});
// stdin closed: the Go side is shutting down. Exit without waiting for
// timers a handler may hold (its recent-keys memory).
lines.on("close", () => process.exit(0));
