// Local harness only (never deployed): runs a CloudFront Function file, such as
// lambda/viewer-request/index.js, for the Go front in local/front.
//
// The file is evaluated the way CloudFront Functions treats it: a classic script (module
// syntax would not parse) whose top-level `handler(event)` is called, in a context with the
// language's built-ins and console only (no require, process or Buffer of node's).
// cloudfront-js-2.0 allows an async handler; a returned promise is awaited.
//
// Protocol as runner.mjs's: one {"id":N,"event":{...}} per line on stdin, one
// {"id":N,"result":...} or {"id":N,"error":"..."} per line on file descriptor 3.
//
// Usage: node function_runner.mjs <function file>
import { readFileSync, writeSync } from "node:fs";
import { createInterface } from "node:readline";
import vm from "node:vm";

const [file] = process.argv.slice(2);
const context = vm.createContext({ console });
new vm.Script(readFileSync(file, "utf8"), { filename: file }).runInContext(context);
const handler = context.handler;
if (typeof handler !== "function") {
  throw new Error(`${file} defines no top-level function handler`);
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
    .then(() => handler(req.event))
    .then(
      (result) => reply({ id: req.id, result }),
      (err) => reply({ id: req.id, error: String((err && err.stack) || err) }),
    );
});
lines.on("close", () => process.exit(0));
