// Lambda@Edge origin-request handler for a private source. CloudFront runs it before every
// origin fetch of the default behavior, for the S3 origin and, on a failover, for the source
// origin. It signs the request to the source origin with SigV4 (GCS HMAC keys speak it, as
// does any S3-compatible store) and returns every other request exactly as it came: the S3
// request is signed by Origin Access Control and must not be touched. It never throws: if it
// cannot sign, the request goes on unsigned (the source answers 403, CloudFront serves that)
// and one line is logged.
// The deployed bundle is this file plus origin-request.settings.mjs, written by the CDK stack
// at synth (Lambda@Edge has no environment variables). The AWS SDK pieces come from the
// Lambda Node.js runtime.
import { SignatureV4 } from "@smithy/signature-v4";
import { Sha256 } from "@aws-crypto/sha256-js";
import { SecretsManagerClient, GetSecretValueCommand } from "@aws-sdk/client-secrets-manager";
import settings from "./origin-request.settings.mjs";

// The secret read on first use: bounded, since the viewer waits for it.
const SECRET_DEADLINE_MS = 1500;
const SECRET_ATTEMPT_TIMEOUT_MS = 700;
// A container keeps the key this long, so a rotated key is in use within that time.
const KEY_TTL_MS = 5 * 60_000;
// After a failed read, requests do not wait for another read for this long.
const RETRY_AFTER_MS = 5_000;
const UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD";

/**
 * Builds an origin-request handler.
 * settings: {sourceDomainName, sourceRegion, secretId, secretRegion} (throws TypeError when
 *   invalid). sourceDomainName may start with "{bucket}." (a virtual-hosted source).
 * deps (all optional): secretsClient (anything with send(command, {abortSignal})),
 *   readSecret() -> {accessKeyId, secretAccessKey} (replaces the Secrets Manager read),
 *   log(entry), now() in ms, keyTtlMs, retryAfterMs, secretDeadlineMs.
 */
export function createHandler(settings, deps = {}) {
  const config = validateSettings(settings);
  const log = deps.log ?? logJson;
  const now = deps.now ?? Date.now;
  const secretDeadlineMs = deps.secretDeadlineMs ?? SECRET_DEADLINE_MS;
  let secrets = deps.secretsClient;

  async function readSecret() {
    // Once per container, in the secret's home region: the function runs wherever CloudFront
    // fetches from the origin, and reads the one secret across regions (see README).
    secrets ??= new SecretsManagerClient({
      region: config.secretRegion,
      maxAttempts: 2,
      requestHandler: { connectionTimeout: SECRET_ATTEMPT_TIMEOUT_MS, requestTimeout: SECRET_ATTEMPT_TIMEOUT_MS, throwOnRequestTimeout: true },
    });
    const out = await withDeadline((abortSignal) => secrets.send(new GetSecretValueCommand({ SecretId: config.secretId }), { abortSignal }), secretDeadlineMs);
    return parseKey(out?.SecretString);
  }

  const keys = new KeyCache(deps.readSecret ?? readSecret, deps.keyTtlMs ?? KEY_TTL_MS, deps.retryAfterMs ?? RETRY_AFTER_MS, now, log);

  return async function handler(event) {
    const cf = event?.Records?.[0]?.cf;
    const request = cf?.request;
    // Only the source origin: an S3 origin (request.origin.s3) or another host passes as is.
    if (!config.isSource(request?.origin?.custom?.domainName)) return request;
    try {
      const key = await keys.get();
      await signRequest(request, key, config.sourceRegion, now);
    } catch (err) {
      log({ level: "error", msg: "not signed: request passed on unsigned", uri: request?.uri, error: describe(err), requestId: cf?.config?.requestId });
    }
    return request;
  };
}

// Signs request in place: the path is the origin path plus the URI as CloudFront forwards it
// (after the viewer-request function), in SigV4's canonical encoding, which is also what is
// sent; the signature covers host and x-amz-* only (Google rewrites Accept-Encoding, and
// CloudFront may widen a viewer's Range).
async function signRequest(request, key, region, now) {
  const custom = request.origin.custom;
  const uri = canonicalPath(request.uri);
  const host = request.headers?.host?.[0]?.value ?? custom.domainName;
  const headers = { host };
  for (const [name, values] of Object.entries(request.headers ?? {})) {
    if (name.startsWith("x-amz-") && values?.[0]) headers[name] = values[0].value;
  }
  headers["x-amz-content-sha256"] = UNSIGNED_PAYLOAD;
  const signer = new SignatureV4({
    credentials: { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey },
    region,
    service: "s3",
    sha256: Sha256,
    // S3's canonical URI is the path as sent, not escaped a second time.
    uriEscapePath: false,
    applyChecksum: false,
  });
  const signed = await signer.sign(
    { method: request.method, protocol: "https:", hostname: host, path: (custom.path ?? "") + uri, query: parseQuery(request.querystring), headers },
    { signingDate: new Date(now()) },
  );
  request.uri = uri;
  for (const [name, value] of Object.entries(signed.headers)) {
    const lower = name.toLowerCase();
    if (lower === "authorization" || lower.startsWith("x-amz-")) request.headers[lower] = [{ key: canonicalKey(lower), value }];
  }
}

const UNRESERVED = /[A-Za-z0-9\-._~]/;

// The URI in SigV4's canonical S3 encoding without a second escaping: an existing %XX stays
// one (in upper case; decoded when it stands for an unreserved character), a character that
// needs escaping and is not escaped yet is escaped. A literal "+" the viewer-request function
// did not rewrite becomes %2B, as it means to the source.
export function canonicalPath(uri) {
  if (typeof uri !== "string" || !uri.startsWith("/")) throw new Error(`uri ${JSON.stringify(uri)} is not a path`);
  let out = "";
  for (let i = 0; i < uri.length; ) {
    const c = uri[i];
    if (c === "%") {
      const hex = uri.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) throw new Error(`uri has a malformed escape at ${i}`);
      const ch = String.fromCharCode(parseInt(hex, 16));
      out += UNRESERVED.test(ch) ? ch : `%${hex.toUpperCase()}`;
      i += 3;
      continue;
    }
    const cp = uri.codePointAt(i);
    const ch = String.fromCodePoint(cp);
    out += c === "/" || UNRESERVED.test(ch) ? ch : [...Buffer.from(ch, "utf8")].map((b) => `%${b.toString(16).toUpperCase().padStart(2, "0")}`).join("");
    i += ch.length;
  }
  return out;
}

function parseQuery(querystring) {
  const query = {};
  if (!querystring) return query;
  for (const pair of querystring.split("&")) {
    if (!pair) continue;
    const [name, value = ""] = pair.split("=", 2).map((part) => decodeURIComponent(part.replace(/\+/g, " ")));
    query[name] = name in query ? [].concat(query[name], value) : value;
  }
  return query;
}

function canonicalKey(lower) {
  return lower === "authorization" ? "Authorization" : lower.replace(/(^|-)([a-z])/g, (_, dash, ch) => dash + ch.toUpperCase());
}

function parseKey(secretString) {
  let key;
  try {
    key = JSON.parse(secretString ?? "");
  } catch {
    throw new Error('the secret is not JSON {"accessKeyId","secretAccessKey"}');
  }
  if (typeof key?.accessKeyId !== "string" || !key.accessKeyId || typeof key?.secretAccessKey !== "string" || !key.secretAccessKey) {
    throw new Error("the secret lacks accessKeyId or secretAccessKey");
  }
  return { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey };
}

// One key per container: read on first use, kept for ttlMs, then read again on the next
// request. Concurrent requests share one read. A failed refresh keeps the old key (and says
// so); with no key, requests go unsigned without waiting until retryAfterMs has passed.
class KeyCache {
  #read;
  #ttlMs;
  #retryAfterMs;
  #now;
  #log;
  #key;
  #expires = 0;
  #failedUntil = 0;
  #lastError;
  #inflight;

  constructor(read, ttlMs, retryAfterMs, now, log) {
    this.#read = read;
    this.#ttlMs = ttlMs;
    this.#retryAfterMs = retryAfterMs;
    this.#now = now;
    this.#log = log;
  }

  async get() {
    const t = this.#now();
    if (this.#key && t < this.#expires) return this.#key;
    if (t < this.#failedUntil) {
      if (this.#key) return this.#key;
      throw new Error(`no key: the last secret read failed (${describe(this.#lastError)})`);
    }
    this.#inflight ??= this.#refresh().finally(() => {
      this.#inflight = undefined;
    });
    return this.#inflight;
  }

  async #refresh() {
    try {
      this.#key = await this.#read();
      this.#expires = this.#now() + this.#ttlMs;
      return this.#key;
    } catch (err) {
      this.#lastError = err;
      this.#failedUntil = this.#now() + this.#retryAfterMs;
      if (!this.#key) throw err;
      this.#log({ level: "warn", msg: "secret refresh failed: signing with the key read before", error: describe(err) });
      return this.#key;
    }
  }
}

// Bounds the call even if the SDK in the runtime ignores the abort signal (as index.mjs does).
function withDeadline(call, ms) {
  const controller = new AbortController();
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new Error(`no answer within ${ms} ms`));
    }, ms);
  });
  const answer = new Promise((resolve) => resolve(call(controller.signal)));
  return Promise.race([answer, deadline]).finally(() => clearTimeout(timer));
}

// The source origin's domain: exact, or with "{bucket}." one label before the host.
function sourceMatcher(pattern) {
  const suffix = pattern.startsWith("{bucket}.") ? pattern.slice("{bucket}".length) : undefined;
  if (suffix === undefined) return (domain) => domain === pattern;
  return (domain) =>
    typeof domain === "string" && domain.endsWith(suffix) && domain.length > suffix.length && !domain.slice(0, -suffix.length).includes(".");
}

function validateSettings(s) {
  const problems = [];
  if (typeof s?.sourceDomainName !== "string" || !/^(\{bucket\}\.)?[a-z0-9.-]+$/.test(s.sourceDomainName)) {
    problems.push("sourceDomainName must be a host name, optionally starting with {bucket}.");
  }
  if (typeof s?.sourceRegion !== "string" || !/^(auto|[a-z]{2,}(-[a-z0-9]+)+)$/.test(s.sourceRegion)) problems.push("sourceRegion must be auto or a region");
  if (typeof s?.secretId !== "string" || s.secretId === "") problems.push("secretId must name the secret");
  if (typeof s?.secretRegion !== "string" || !/^[a-z]{2}(-[a-z]+)+-\d+$/.test(s.secretRegion)) problems.push("secretRegion must be a region");
  if (problems.length > 0) throw new TypeError(`invalid origin-request settings: ${problems.join("; ")}`);
  return Object.freeze({ ...s, isSource: sourceMatcher(s.sourceDomainName) });
}

function describe(err) {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

function logJson(entry) {
  console.log(JSON.stringify(entry));
}

// Bad baked settings must not fail every origin request: say so once and pass them through.
function defaultHandler() {
  try {
    return createHandler(settings);
  } catch (err) {
    logJson({ level: "error", msg: "origin-request settings rejected: nothing will be signed", error: describe(err) });
    return async (event) => event?.Records?.[0]?.cf?.request;
  }
}

export const handler = defaultHandler();
