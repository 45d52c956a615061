// A fake Resend on loopback, for tests: `POST /emails` as Resend documents it — Bearer API key
// (401), JSON body with `from`, `to`, `subject` (422 otherwise), `Idempotency-Key` honoured for
// 24 h (the same key and body answer the first id and send nothing; another body is 409) — plus
// injected answers (`failNext`) and a connection dropped after acceptance (`dropNext`), which
// is what makes an outcome ambiguous.

export interface FakeResendEmail {
  id: string;
  idempotencyKey: string | null;
  body: Record<string, unknown>;
}

export interface FakeResend {
  /** The base URL to give `resend({ baseUrl })`. */
  url: string;
  /** Emails accepted (each once, whatever the retries). */
  emails: FakeResendEmail[];
  /** Every request received, accepted or not. */
  requests: number;
  /** When each request arrived (`performance.now()` milliseconds), in order. */
  requestTimes: number[];
  /** Answers the next request with `status` (and `headers`, `body`) instead of accepting it. */
  failNext(status: number, o?: { headers?: Record<string, string>; body?: unknown }): void;
  /** Accepts the next email, then drops the connection without answering. */
  dropNext(): void;
  close(): Promise<void>;
}

const DAY_MS = 86_400_000;

export async function fakeResend(o: { apiKey?: string; latencyMs?: number } = {}): Promise<FakeResend> {
  const { createServer } = await import("node:http");
  const apiKey = o.apiKey ?? "re_test";
  const failures: Array<{ status: number; headers?: Record<string, string>; body?: unknown }> = [];
  let drop = 0;
  const keys = new Map<string, { id: string; body: string; at: number }>();
  let seq = 0;
  const state = { emails: [] as FakeResendEmail[], requests: 0, requestTimes: [] as number[] };
  const server = createServer((req, res) => {
    state.requestTimes.push(performance.now());
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      state.requests++;
      const answer = (status: number, body: unknown, headers: Record<string, string> = {}) =>
        setTimeout(() => res.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify(body)), o.latencyMs ?? 0);
      if (req.method !== "POST" || req.url !== "/emails") return answer(404, { name: "not_found", message: "Not found" });
      if (req.headers.authorization !== `Bearer ${apiKey}`) return answer(401, { name: "missing_api_key", message: "API key is invalid" });
      const failure = failures.shift();
      if (failure) return answer(failure.status, failure.body ?? { name: "error", message: `injected ${failure.status}` }, failure.headers);
      const text = Buffer.concat(chunks).toString();
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(text) as Record<string, unknown>;
      } catch {
        return answer(400, { name: "invalid_json", message: "Invalid JSON" });
      }
      if (typeof body.from !== "string" || !Array.isArray(body.to) || body.to.length === 0 || typeof body.subject !== "string") {
        return answer(422, { name: "validation_error", message: "`from`, `to` and `subject` are required" });
      }
      const key = typeof req.headers["idempotency-key"] === "string" ? req.headers["idempotency-key"] : null;
      const seen = key ? keys.get(key) : undefined;
      if (seen && Date.now() - seen.at < DAY_MS) {
        if (seen.body !== text) return answer(409, { name: "invalid_idempotent_request", message: "Same idempotency key used with a different request payload" });
        return answer(200, { id: seen.id });
      }
      const id = `re_${(++seq).toString().padStart(6, "0")}`;
      if (key) keys.set(key, { id, body: text, at: Date.now() });
      state.emails.push({ id, idempotencyKey: key, body });
      if (drop > 0) {
        drop--;
        return req.socket.destroy();
      }
      answer(200, { id });
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    get emails() {
      return state.emails;
    },
    get requests() {
      return state.requests;
    },
    get requestTimes() {
      return state.requestTimes;
    },
    failNext: (status, f = {}) => void failures.push({ status, ...f }),
    dropNext: () => void drop++,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
