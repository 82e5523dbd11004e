// Lambda@Edge origin-response handler. When CloudFront had to fetch an object from the
// GCS origin, it sends one message to the transfer FIFO queue so the object gets copied
// to S3. It never changes the response and never throws: viewers must not notice it.
// The deployed bundle is this file plus a settings.mjs that the CDK stack writes at
// synth (Lambda@Edge has no environment variables), so it imports nothing else of ours.
import { createHash } from "node:crypto";
import { SQSClient, SendMessageCommand } from "@aws-sdk/client-sqs";
import settings from "./settings.mjs";

const MESSAGE_VERSION = 1;
// 304 counts: CloudFront revalidated an object that GCS still has.
const QUEUED_STATUSES = new Set(["200", "206", "304"]);
// Origin groups fail over only for GET/HEAD/OPTIONS, and a CORS preflight answered by
// GCS says nothing about whether the object exists.
const QUEUED_METHODS = new Set(["GET", "HEAD"]);
const MAX_KEY_BYTES = 1024;
// A slow queue must not stall viewers: the whole send, retry included, gets this long.
const SEND_DEADLINE_MS = 1000;
const ATTEMPT_TIMEOUT_MS = 450;
// Range requests of one video produce hundreds of misses for one key within seconds.
const REMEMBER_KEYS = 10_000;
const REMEMBER_MS = 60_000;
// One CloudWatch Embedded Metric Format line per origin fetch that served the viewer:
// OriginFetches, dimension Origin = S3 or GCS, namespace BackToOrigin (the transfer
// function's). Only 200/206/304 count: a primary 403/404 that CloudFront fails over from
// served nobody. The line is a constant around the timestamp, so the hit path pays for one
// string concatenation and one log write.
const SERVED_STATUSES = QUEUED_STATUSES;
const emfTail = (origin) =>
  `,"CloudWatchMetrics":[{"Namespace":"BackToOrigin","Dimensions":[["Origin"]],"Metrics":[{"Name":"OriginFetches","Unit":"Count"}]}]},"Origin":"${origin}","OriginFetches":1}`;
const S3_FETCH = emfTail("S3");
const GCS_FETCH = emfTail("GCS");

/**
 * Builds an origin-response handler.
 * settings: {queueName, queueRegion, sourceDomainName, includePrefixes, excludeSuffixes}
 *   (throws TypeError when invalid).
 * deps (all optional): sqsClient (anything with send(command, {abortSignal})),
 *   sqsClientConfig (merged into the bounded default client's config), queueUrl,
 *   log(entry), metric(line) (one EMF JSON line; default console.log), now() in ms,
 *   rememberKeys, rememberMs, sendDeadlineMs.
 */
export function createHandler(settings, deps = {}) {
  const config = validateSettings(settings);
  const log = deps.log ?? logJson;
  const metric = deps.metric ?? logLine;
  const clock = deps.now ?? Date.now;
  const recent = new RecentKeys(deps.rememberKeys ?? REMEMBER_KEYS, deps.rememberMs ?? REMEMBER_MS, deps.now ?? Date.now);
  const sendDeadlineMs = deps.sendDeadlineMs ?? SEND_DEADLINE_MS;
  let sqs = deps.sqsClient;
  let queueUrl = deps.queueUrl;

  function sqsClient() {
    // Once per container, in the queue's region: an origin-facing function runs where
    // CloudFront fetches from the origin (with Origin Shield, reportedly the Origin Shield
    // region; otherwise a regional edge cache), never in a region it could take for granted.
    sqs ??= new SQSClient({
      region: config.queueRegion,
      maxAttempts: 2,
      // The SDK would otherwise send to the queue URL's host even when
      // AWS_ENDPOINT_URL_SQS names a stand-in; the URL's host is the regional
      // endpoint anyway.
      useQueueUrlAsEndpoint: false,
      requestHandler: {
        connectionTimeout: ATTEMPT_TIMEOUT_MS,
        requestTimeout: ATTEMPT_TIMEOUT_MS,
        throwOnRequestTimeout: true,
      },
      ...deps.sqsClientConfig,
    });
    return sqs;
  }

  function resolveQueueUrl(context) {
    if (queueUrl) return queueUrl;
    const account = String(context?.invokedFunctionArn ?? "").split(":")[4];
    if (!/^\d{12}$/.test(account ?? "")) return undefined;
    queueUrl = `https://sqs.${config.queueRegion}.amazonaws.com/${account}/${config.queueName}`;
    return queueUrl;
  }

  async function enqueue(cf, context) {
    const { request, response } = cf;
    const status = String(response.status);
    if (!QUEUED_STATUSES.has(status) || !QUEUED_METHODS.has(request.method)) return;
    const requestId = cf.config?.requestId;

    const key = objectKey(request.uri);
    if (key === undefined) {
      log({ level: "warn", msg: "skipped: key cannot be decoded or is not 1..1024 UTF-8 bytes", uri: request.uri, requestId });
      return;
    }
    if (!config.wanted(key)) return;

    const id = sha256Hex(key);
    if (!recent.claim(id)) return;

    const url = resolveQueueUrl(context);
    if (!url) {
      recent.release(id);
      log({ level: "error", msg: "not queued: no account id in context.invokedFunctionArn", key, requestId });
      return;
    }
    const body = JSON.stringify(transferMessage(key, status, response.headers));
    try {
      const sent = await withDeadline(
        (abortSignal) => sqsClient().send(new SendMessageCommand({ QueueUrl: url, MessageBody: body, MessageGroupId: id, MessageDeduplicationId: id }), { abortSignal }),
        sendDeadlineMs,
      );
      recent.confirm(id);
      log({ level: "info", msg: "queued", key, messageId: sent?.MessageId, requestId });
    } catch (err) {
      // Forget the key so a later miss tries again.
      recent.release(id);
      log({ level: "error", msg: "not queued: SendMessage failed", key, queueUrl: url, error: describe(err), requestId });
    }
  }

  function emit(tail) {
    try {
      metric('{"_aws":{"Timestamp":' + clock() + tail);
    } catch {
      // A log write that fails has nowhere to report to; the viewer's response goes on.
    }
  }

  return async function handler(event, context) {
    const cf = event?.Records?.[0]?.cf;
    const response = cf?.response;
    // The hit path: one property comparison and the origin-fetch metric, nothing else.
    if (!config.isSource(cf?.request?.origin?.custom?.domainName) || !response) {
      if (response && SERVED_STATUSES.has(String(response.status))) emit(S3_FETCH);
      return response;
    }
    if (SERVED_STATUSES.has(String(response.status))) emit(GCS_FETCH);
    try {
      await enqueue(cf, context);
    } catch (err) {
      log({ level: "error", msg: "not queued: unexpected error", error: describe(err), requestId: cf.config?.requestId });
    }
    return response;
  };
}

// The S3 key: the URI without its leading slash, percent-decoded exactly once. A literal
// "+" stays "+" (decodeURIComponent, unlike form decoding, leaves it alone).
function objectKey(uri) {
  if (typeof uri !== "string") return undefined;
  let key;
  try {
    key = decodeURIComponent(uri.startsWith("/") ? uri.slice(1) : uri);
  } catch {
    return undefined; // malformed escape or invalid UTF-8
  }
  const bytes = Buffer.byteLength(key, "utf8");
  return bytes >= 1 && bytes <= MAX_KEY_BYTES ? key : undefined;
}

function transferMessage(key, status, headers) {
  const message = { v: MESSAGE_VERSION, key };
  const size = objectSize(status, headers);
  if (size !== undefined) message.size = size;
  const generation = header(headers, "x-goog-generation");
  if (generation && /^\d{1,20}$/.test(generation)) message.generation = generation;
  const etag = header(headers, "etag");
  if (etag && etag.length <= 256) message.etag = etag;
  return message;
}

// The stored size wins: with decompressive transcoding Content-Length is not the size of
// the stored bytes, and a 206 carries the total only in Content-Range.
function objectSize(status, headers) {
  const stored = header(headers, "x-goog-stored-content-length");
  if (stored !== undefined) return parseSize(stored);
  if (status === "206") return parseSize(/^bytes \d+-\d+\/(\d+)$/.exec(header(headers, "content-range") ?? "")?.[1]);
  if (status === "200") return parseSize(header(headers, "content-length"));
  return undefined;
}

function parseSize(text) {
  if (typeof text !== "string" || !/^\d{1,16}$/.test(text)) return undefined;
  const size = Number(text);
  return Number.isSafeInteger(size) ? size : undefined;
}

function header(headers, name) {
  const value = headers?.[name]?.[0]?.value;
  return typeof value === "string" ? value : undefined;
}

function sha256Hex(text) {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

// Bounds the call even if the SDK in the runtime ignores the abort signal. A call that
// throws before returning a promise becomes a rejection too, so the timer is always
// cleared and the deadline never rejects unobserved (which would crash the runtime).
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

// Keys queued recently by this container, oldest first. An entry is in flight
// (expiry Infinity) from the claim until the send settles, so concurrent misses for one
// key send once.
class RecentKeys {
  #entries = new Map();
  #maxKeys;
  #ttlMs;
  #now;

  constructor(maxKeys, ttlMs, now) {
    this.#maxKeys = maxKeys;
    this.#ttlMs = ttlMs;
    this.#now = now;
  }

  claim(id) {
    const expiry = this.#entries.get(id);
    if (expiry !== undefined && expiry > this.#now()) return false;
    this.#put(id, Infinity);
    return true;
  }

  confirm(id) {
    this.#put(id, this.#now() + this.#ttlMs);
  }

  release(id) {
    this.#entries.delete(id);
  }

  // Expired entries are not swept: they are harmless until the bound pushes them out.
  #put(id, expiry) {
    this.#entries.delete(id);
    for (const oldId of this.#entries.keys()) {
      if (this.#entries.size < this.#maxKeys) break;
      this.#entries.delete(oldId);
    }
    this.#entries.set(id, expiry);
  }
}

function validateSettings(s) {
  const problems = [];
  if (typeof s?.queueName !== "string" || !/^[A-Za-z0-9_-]{1,75}\.fifo$/.test(s.queueName)) {
    problems.push(`queueName ${JSON.stringify(s?.queueName)} is not a FIFO queue name`);
  }
  if (typeof s?.queueRegion !== "string" || !/^[a-z]{2}(-[a-z]+)+-\d+$/.test(s.queueRegion)) {
    problems.push(`queueRegion ${JSON.stringify(s?.queueRegion)} is not a region`);
  }
  if (typeof s?.sourceDomainName !== "string" || !/^(\{bucket\}\.)?[a-z0-9.-]+$/.test(s.sourceDomainName)) {
    problems.push("sourceDomainName must be a host name, optionally starting with {bucket}.");
  }
  // An empty list means "no rule", and so does a missing one (Go marshals a nil slice as
  // null); an empty suffix would exclude every key.
  const isRuleList = (list) => list == null || (Array.isArray(list) && list.every((rule) => typeof rule === "string" && rule !== ""));
  if (!isRuleList(s?.includePrefixes)) problems.push("includePrefixes must be a list of non-empty strings");
  if (!isRuleList(s?.excludeSuffixes)) problems.push("excludeSuffixes must be a list of non-empty strings");
  if (problems.length > 0) throw new TypeError(`invalid edge settings: ${problems.join("; ")}`);

  const includePrefixes = [...(s.includePrefixes ?? [])];
  const excludeSuffixes = [...(s.excludeSuffixes ?? [])];
  return Object.freeze({
    queueName: s.queueName,
    queueRegion: s.queueRegion,
    sourceDomainName: s.sourceDomainName,
    isSource: sourceMatcher(s.sourceDomainName),
    wanted: (key) =>
      (includePrefixes.length === 0 || includePrefixes.some((prefix) => key.startsWith(prefix))) &&
      !excludeSuffixes.some((suffix) => key.endsWith(suffix)),
  });
}

// The source origin's domain: the endpoint's host, or for a virtual-hosted endpoint
// ({bucket}.s3.example.com) any single bucket label before that host. The bucket name is a
// CloudFormation parameter of the other stack, unknown when this bundle is built.
export function sourceMatcher(pattern) {
  const suffix = pattern.startsWith("{bucket}.") ? pattern.slice("{bucket}".length) : undefined;
  if (suffix === undefined) return (domain) => domain === pattern;
  return (domain) =>
    typeof domain === "string" && domain.endsWith(suffix) && domain.length > suffix.length && !domain.slice(0, -suffix.length).includes(".");
}

function describe(err) {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

function logJson(entry) {
  console.log(JSON.stringify(entry));
}

function logLine(line) {
  console.log(line);
}

// Bad baked settings must not turn every origin response into an error for viewers:
// say so once per container and pass everything through.
function defaultHandler() {
  try {
    return createHandler(settings);
  } catch (err) {
    logJson({ level: "error", msg: "edge settings rejected: nothing will be queued", error: describe(err) });
    return async (event) => event?.Records?.[0]?.cf?.response;
  }
}

export const handler = defaultHandler();
