// A fake SendGrid on loopback, for tests: `POST /v3/mail/send` as SendGrid documents it — a
// Bearer API key (401), `personalizations[0].to`, `from.email`, `subject` and `content` required,
// `text/plain` before `text/html` (400 with `errors: [{ message, field }]`), accepted mail
// answered `202` with an empty body and its id in `X-Message-Id`. SendGrid keeps no idempotency
// key: every accepted request is one more email.
import { randomUUID } from "node:crypto";
import { fakeServer, type FakeServer } from "./fake-server";

export interface FakeSendgridEmail {
  messageId: string;
  body: Record<string, any>;
}

export interface FakeSendgrid extends FakeServer {
  emails: FakeSendgridEmail[];
}

const refusal = (status: number, message: string, field: string | null = null) => ({ status, body: { errors: [{ message, field, help: null }] } });

export async function fakeSendgrid(o: { apiKey?: string; latencyMs?: number } = {}): Promise<FakeSendgrid> {
  const key = o.apiKey ?? "SG.fake";
  const emails: FakeSendgridEmail[] = [];
  const server = await fakeServer(
    {
      refuse(r) {
        if (r.method !== "POST" || r.url !== "/v3/mail/send") return refusal(404, "Not found");
        if (r.headers.authorization !== `Bearer ${key}`) return refusal(401, "The provided authorization grant is invalid, expired, or revoked");
        return null;
      },
      failure: (status) => ({ errors: [{ message: `injected ${status}`, field: null, help: null }] }),
      accept(r) {
        let body: Record<string, any>;
        try {
          body = JSON.parse(r.text);
        } catch {
          return refusal(400, "Bad Request");
        }
        if (!Array.isArray(body.personalizations?.[0]?.to) || body.personalizations[0].to.length === 0) return refusal(400, "The to array is required for all personalization objects, and must have at least one email object with a valid email address.", "personalizations.0.to");
        if (typeof body.from?.email !== "string") return refusal(400, "The from object must be provided for every email send.", "from");
        if (typeof body.subject !== "string") return refusal(400, "The subject is required.", "subject");
        const content = Array.isArray(body.content) ? body.content : [];
        if (content.length === 0) return refusal(400, "Unless a valid template_id is provided, the content parameter is required.", "content");
        if (content.length > 1 && content[0].type !== "text/plain") return refusal(400, "If present, text/plain content must be first, followed by any other content.", "content");
        const messageId = randomUUID().replace(/-/g, "").slice(0, 22);
        emails.push({ messageId, body });
        return { status: 202, body: undefined, headers: { "x-message-id": messageId } };
      },
    },
    o.latencyMs,
  );
  return Object.assign(server, { emails });
}
