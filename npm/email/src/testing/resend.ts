// A fake Resend on loopback, for tests: `POST /emails` as Resend documents it — Bearer API key
// (401), JSON body with `from`, `to`, `subject` (422 otherwise), `Idempotency-Key` honoured for
// 24 h (the same key and body answer the first id and send nothing; another body is 409) — plus
// injected answers (`failNext`) and a connection dropped after acceptance (`dropNext`).
import { fakeServer, type FakeServer } from "./fake-server";

export interface FakeResendEmail {
  id: string;
  idempotencyKey: string | null;
  body: Record<string, unknown>;
}

export interface FakeResend extends FakeServer {
  /** Emails accepted (each once, whatever the retries). */
  emails: FakeResendEmail[];
}

const DAY_MS = 86_400_000;

export async function fakeResend(o: { apiKey?: string; latencyMs?: number } = {}): Promise<FakeResend> {
  const apiKey = o.apiKey ?? "re_test";
  const keys = new Map<string, { id: string; body: string; at: number }>();
  const emails: FakeResendEmail[] = [];
  let seq = 0;
  const server = await fakeServer(
    {
      refuse(r) {
        if (r.method !== "POST" || r.url !== "/emails") return { status: 404, body: { name: "not_found", message: "Not found" } };
        if (r.headers.authorization !== `Bearer ${apiKey}`) return { status: 401, body: { name: "missing_api_key", message: "API key is invalid" } };
        return null;
      },
      failure: (status) => ({ name: "error", message: `injected ${status}` }),
      accept(r) {
        let body: Record<string, unknown>;
        try {
          body = JSON.parse(r.text) as Record<string, unknown>;
        } catch {
          return { status: 400, body: { name: "invalid_json", message: "Invalid JSON" } };
        }
        if (typeof body.from !== "string" || !Array.isArray(body.to) || body.to.length === 0 || typeof body.subject !== "string") {
          return { status: 422, body: { name: "validation_error", message: "`from`, `to` and `subject` are required" } };
        }
        const key = typeof r.headers["idempotency-key"] === "string" ? r.headers["idempotency-key"] : null;
        const seen = key ? keys.get(key) : undefined;
        if (seen && Date.now() - seen.at < DAY_MS) {
          if (seen.body !== r.text) return { status: 409, body: { name: "invalid_idempotent_request", message: "Same idempotency key used with a different request payload" } };
          return { status: 200, body: { id: seen.id } };
        }
        const id = `re_${(++seq).toString().padStart(6, "0")}`;
        if (key) keys.set(key, { id, body: r.text, at: Date.now() });
        emails.push({ id, idempotencyKey: key, body });
        return { status: 200, body: { id } };
      },
    },
    o.latencyMs,
  );
  return Object.assign(server, { emails });
}
