// Local harness only (never deployed): runs a staged Lambda@Edge origin-request bundle (the
// synthesized asset: origin-request.mjs and its baked origin-request.settings.mjs) for the Go
// front in local/front. Same line protocol as runner.mjs.
//
// Usage: node origin_request_runner.mjs <staged dir> <handler file> <export> [keyTtlMs]
// Without keyTtlMs the bundle's exported handler runs as deployed. With it the handler is
// built with createHandler(settings, {keyTtlMs}) from the same baked settings: the test hook
// origin-request.mjs offers, so a test can wait out the key cache's TTL instead of 5 minutes.
import { writeSync } from "node:fs";
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";
import { join } from "node:path";

const [dir, file, name, keyTtlMs] = process.argv.slice(2);
const mod = await import(pathToFileURL(join(dir, file)).href);
let handler = mod[name];
if (keyTtlMs) {
  const settings = (await import(pathToFileURL(join(dir, "origin-request.settings.mjs")).href)).default;
  handler = mod.createHandler(settings, { keyTtlMs: Number(keyTtlMs) });
}
if (typeof handler !== "function") {
  throw new Error(`the staged ${file} exports no handler function ${name}`);
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
    .then(() => handler(req.event, req.context || {}))
    .then(
      (result) => reply({ id: req.id, result }),
      (err) => reply({ id: req.id, error: String((err && err.stack) || err) }),
    );
});
lines.on("close", () => process.exit(0));
