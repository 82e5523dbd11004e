// A stand-in for AWS Secrets Manager on 127.0.0.1, for tests and the bench only: it speaks
// just GetSecretValue of the JSON 1.1 protocol (POST /, X-Amz-Target:
// secretsmanager.GetSecretValue), which is all the origin-request function calls. It is not
// Secrets Manager: it checks no signature and keeps secrets in memory.
import http from "node:http";

export async function startSecretsStandIn({ delayMs = 0 } = {}) {
  const secrets = new Map();
  const calls = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      const target = req.headers["x-amz-target"];
      const answer = (status, obj) => {
        res.writeHead(status, { "content-type": "application/x-amz-json-1.1" });
        res.end(JSON.stringify(obj));
      };
      let input;
      try {
        input = JSON.parse(body);
      } catch {
        return answer(400, { __type: "InvalidRequestException", message: "body is not JSON" });
      }
      calls.push({ target, secretId: input.SecretId, authorization: req.headers.authorization });
      setTimeout(() => {
        if (target !== "secretsmanager.GetSecretValue") return answer(400, { __type: "InvalidActionException", message: `${target} is not offered` });
        if (!secrets.has(input.SecretId)) return answer(400, { __type: "ResourceNotFoundException", message: "Secrets Manager can't find the specified secret." });
        answer(200, { ARN: `arn:aws:secretsmanager:us-east-1:111122223333:secret:${input.SecretId}-AbCdEf`, Name: input.SecretId, SecretString: secrets.get(input.SecretId), VersionId: "v1" });
      }, delayMs);
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    endpoint: `http://127.0.0.1:${server.address().port}`,
    calls,
    put: (id, value) => secrets.set(id, typeof value === "string" ? value : JSON.stringify(value)),
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
