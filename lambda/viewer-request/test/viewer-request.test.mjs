// The deployed viewer-request function, evaluated from its file as CloudFront Functions
// runs it, on documented event shapes (see load.mjs).
import { test } from "node:test";
import assert from "node:assert/strict";
import { loadHandler, viewerRequest, SOURCE } from "./load.mjs";

const handler = loadHandler();

// The whole request after the function, next to what it was before.
function run(event) {
  const before = structuredClone(event.request);
  const result = handler(event);
  return { before, result };
}

test("every literal + in the uri becomes %2B", () => {
  const event = viewerRequest("/c++/a+b.txt");
  const { result } = run(event);
  assert.equal(result.uri, "/c%2B%2B/a%2Bb.txt");
});

test("the request object itself is returned, so CloudFront forwards it", () => {
  const event = viewerRequest("/img/a+b.png");
  assert.equal(handler(event), event.request);
});

test("a uri without + is left exactly as it came, escapes included", () => {
  for (const uri of ["/img/a.png", "/docs/a%20b%2Bc%20%C3%BC%20100%25.txt", "/a%2bb", "/", "/x%252B"]) {
    const { before, result } = run(viewerRequest(uri));
    assert.deepEqual(result, before, uri);
  }
});

test("literal + next to escapes: only the + changes", () => {
  const { result } = run(viewerRequest("/a%2B+%20+b%25+"));
  assert.equal(result.uri, "/a%2B%2B%20%2Bb%25%2B");
});

test("querystring, headers, cookies and method are untouched, + included", () => {
  const event = viewerRequest("/q+/x", {
    querystring: { q: { value: "a+b" }, multi: { value: "1+1", multiValue: [{ value: "1+1" }, { value: "2+2" }] } },
    headers: { "accept-encoding": { value: "gzip, br" }, "x-plus": { value: "a+b" }, range: { value: "bytes=0-9" } },
  });
  const { before, result } = run(event);
  assert.deepEqual({ ...result, uri: before.uri }, before);
  assert.equal(result.uri, "/q%2B/x");
});

test("the source fits CloudFront Functions: a classic script under 10 KB, no modules", () => {
  assert.ok(Buffer.byteLength(SOURCE, "utf8") < 10 * 1024, `${Buffer.byteLength(SOURCE)} bytes`);
  assert.match(SOURCE, /^function handler\(event\) \{$/m);
  assert.doesNotMatch(SOURCE, /\b(import|export|require)\b/);
});
