// Loads index.js the way CloudFront Functions treats it: a classic script (module syntax
// would not parse here) whose top-level `handler` is called with the event, in a context
// holding only the language's built-ins (no require, process or Buffer of node's).
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import vm from "node:vm";

export const FUNCTION_FILE = path.join(path.dirname(path.dirname(fileURLToPath(import.meta.url))), "index.js");
export const SOURCE = readFileSync(FUNCTION_FILE, "utf8");

export function loadHandler() {
  const context = vm.createContext({});
  new vm.Script(SOURCE, { filename: FUNCTION_FILE }).runInContext(context);
  if (typeof context.handler !== "function") throw new Error(`${FUNCTION_FILE} defines no top-level function handler`);
  return context.handler;
}

// A viewer-request event as CloudFront Functions documents it (event version 1.0):
// https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/functions-event-structure.html
// uri is the path as the viewer sent it, still percent-encoded; querystring, headers and
// cookies are objects of {value, multiValue?}, header names lowercase.
export function viewerRequest(uri, { querystring = {}, headers = {} } = {}) {
  return {
    version: "1.0",
    context: {
      distributionDomainName: "d111111abcdef8.cloudfront.net",
      distributionId: "EDFDVBD6EXAMPLE",
      eventType: "viewer-request",
      requestId: "EXAMPLEntjQpEXAMPLE_SG5Z-EXAMPLEPmPfEXAMPLEu3EqEXAMPLE==",
    },
    viewer: { ip: "198.51.100.11" },
    request: {
      method: "GET",
      uri,
      querystring,
      headers: { host: { value: "d111111abcdef8.cloudfront.net" }, "user-agent": { value: "curl/8.5.0" }, ...headers },
      cookies: {},
    },
  };
}
