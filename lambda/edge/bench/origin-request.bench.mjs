// make bench-edge: the origin-request function's first call in a container (secret read from
// the local Secrets Manager stand-in on 127.0.0.1, plus signing) and its warm per-call signing.
import { readFileSync } from "node:fs";
import { createHandler } from "../origin-request.mjs";
import { startSecretsStandIn } from "../test/secrets-standin.mjs";

const event = JSON.parse(readFileSync(new URL("../test/fixtures/origin-request-source.json", import.meta.url), "utf8"));
const settings = { sourceDomainName: "storage.googleapis.com", sourceRegion: "auto", secretId: "bench/hmac", secretRegion: "us-east-1" };
const sm = await startSecretsStandIn();
sm.put(settings.secretId, { accessKeyId: "GOOGBENCHKEY", secretAccessKey: "bench-secret" });
Object.assign(process.env, { AWS_ENDPOINT_URL_SECRETS_MANAGER: sm.endpoint, AWS_ACCESS_KEY_ID: "local", AWS_SECRET_ACCESS_KEY: "local" });

const quantile = (xs, q) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];
const ms = (ns) => Number(ns) / 1e6;

const first = [];
for (let i = 0; i < 30; i++) {
  const handler = createHandler(settings, { log: () => {} }); // a new container: new client, no key
  const t = process.hrtime.bigint();
  const r = await handler(structuredClone(event));
  first.push(ms(process.hrtime.bigint() - t));
  if (!r.headers.authorization) throw new Error("not signed");
}
const handler = createHandler(settings, { log: () => {} });
await handler(structuredClone(event));
const warm = [];
for (let i = 0; i < 20000; i++) {
  const e = structuredClone(event);
  const t = process.hrtime.bigint();
  await handler(e);
  warm.push(ms(process.hrtime.bigint() - t));
}
console.log(`origin-request, first call (secret read from the local stand-in + sign): median ${quantile(first, 0.5).toFixed(2)} ms, p99 ${quantile(first, 0.99).toFixed(2)} ms (first of all, module warm-up included: ${first[0].toFixed(1)} ms)`);
console.log(`origin-request, warm call (sign only): median ${quantile(warm, 0.5).toFixed(4)} ms, p99 ${quantile(warm, 0.99).toFixed(4)} ms`);
await sm.close();
