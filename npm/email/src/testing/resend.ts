// A fake Resend on loopback, for tests: `POST /emails` and `POST /emails/batch` as Resend
// documents them — Bearer API key (401), JSON with `from`, `to`, `subject` (422 otherwise; a
// batch: 1 to 100 emails without attachments, the whole batch refused for one invalid email
// unless `x-batch-validation: permissive`, which answers `{ data, errors: [{ index, message }] }`),
// `Idempotency-Key` honoured for 24 h (the same key and body answer the first answer and send
// nothing; another body is 409) — plus injected answers (`failNext`) and a connection dropped
// after acceptance (`dropNext`).
import { fakeServer, type FakeServer } from "./fake-server";

export interface FakeResendEmail {
  id: string;
  idempotencyKey: string | null;
  body: Record<string, unknown>;
}

export interface FakeResend extends FakeServer {
  /** Emails accepted (each once, whatever the retries). */
  emails: FakeResendEmail[];
  /** Requests answered from the idempotency record (the same key and body seen before). */
  readonly replayed: number;
  /** Requests refused with 409 (a key seen before with another body). */
  readonly conflicts: number;
}

const DAY_MS = 86_400_000;

export interface FakeResendOptions {
  apiKey?: string;
  latencyMs?: number;
  /** A validation message for an email Resend should refuse (beyond the required fields), else null. */
  invalid?: (email: Record<string, unknown>) => string | null;
}

export async function fakeResend(o: FakeResendOptions = {}): Promise<FakeResend> {
  const apiKey = o.apiKey ?? "re_test";
  const keys = new Map<string, { answer: unknown; body: string; at: number }>();
  const emails: FakeResendEmail[] = [];
  const counts = { replayed: 0, conflicts: 0 };
  let seq = 0;
  /** Validates one message: null when Resend would create it, else its validation message. */
  const invalid = (body: unknown, batch: boolean): string | null => {
    const b = body as Record<string, unknown> | null;
    if (typeof b !== "object" || b === null || typeof b.from !== "string" || !Array.isArray(b.to) || b.to.length === 0 || typeof b.subject !== "string") {
      return "`from`, `to` and `subject` are required";
    }
    if (batch && b.attachments !== undefined) return "Attachments are not supported in batch sending";
    return o.invalid?.(b) ?? null;
  };
  const create = (body: Record<string, unknown>, key: string | null): string => {
    const id = `re_${(++seq).toString().padStart(6, "0")}`;
    emails.push({ id, idempotencyKey: key, body });
    return id;
  };
  const server = await fakeServer(
    {
      refuse(r) {
        if (r.method !== "POST" || (r.url !== "/emails" && r.url !== "/emails/batch")) return { status: 404, body: { name: "not_found", message: "Not found" } };
        if (r.headers.authorization !== `Bearer ${apiKey}`) return { status: 401, body: { name: "missing_api_key", message: "API key is invalid" } };
        return null;
      },
      failure: (status) => ({ name: "error", message: `injected ${status}` }),
      accept(r) {
        let body: unknown;
        try {
          body = JSON.parse(r.text);
        } catch {
          return { status: 400, body: { name: "invalid_json", message: "Invalid JSON" } };
        }
        const key = typeof r.headers["idempotency-key"] === "string" ? r.headers["idempotency-key"] : null;
        const seen = key ? keys.get(key) : undefined;
        if (seen && Date.now() - seen.at < DAY_MS) {
          if (seen.body !== r.text) {
            counts.conflicts++;
            return { status: 409, body: { name: "invalid_idempotent_request", message: "Same idempotency key used with a different request payload" } };
          }
          counts.replayed++;
          return { status: 200, body: seen.answer };
        }
        let answer: unknown;
        if (r.url === "/emails/batch") {
          if (!Array.isArray(body) || body.length === 0 || body.length > 100) return { status: 422, body: { name: "validation_error", message: "a batch holds 1 to 100 emails" } };
          const problems = body.map((b) => invalid(b, true));
          const permissive = r.headers["x-batch-validation"] === "permissive";
          const first = problems.findIndex((p) => p !== null);
          // Strict mode (Resend's default) refuses the whole batch for one invalid email.
          if (!permissive && first >= 0) return { status: 422, body: { name: "validation_error", message: problems[first] } };
          const data = body.flatMap((b, i) => (problems[i] === null ? [{ id: create(b as Record<string, unknown>, key) }] : []));
          const errors = problems.flatMap((message, index) => (message === null ? [] : [{ index, message }]));
          answer = permissive ? { data, errors } : { data };
        } else {
          const problem = invalid(body, false);
          if (problem) return { status: 422, body: { name: "validation_error", message: problem } };
          answer = { id: create(body as Record<string, unknown>, key) };
        }
        if (key) keys.set(key, { answer, body: r.text, at: Date.now() });
        return { status: 200, body: answer };
      },
    },
    o.latencyMs,
  );
  // Live counts (Object.assign would copy a getter's value once).
  return Object.defineProperties(Object.assign(server, { emails }), {
    replayed: { get: () => counts.replayed, enumerable: true },
    conflicts: { get: () => counts.conflicts, enumerable: true },
  }) as FakeResend;
}
