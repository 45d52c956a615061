// A fake Mailgun on loopback, for tests: `POST /v3/{domain}/messages.mime` as Mailgun documents
// it — HTTP Basic `api:{key}` (401 `Forbidden`), an unknown domain 404, `multipart/form-data`
// with at least one `to` and the `message` file (400 otherwise), `v:` fields kept as the
// message's user variables, accepted mail answered `{ id: "<…@domain>", message: "Queued. Thank
// you." }`. Mailgun keeps no idempotency key: every accepted request is one more email.
import { randomUUID } from "node:crypto";
import { fakeServer, type FakeServer } from "./fake-server";

export interface FakeMailgunEmail {
  /** Without the angle brackets. */
  messageId: string;
  to: string[];
  /** The `message` part: the MIME as sent. */
  raw: string;
  variables: Record<string, string>;
}

export interface FakeMailgun extends FakeServer {
  emails: FakeMailgunEmail[];
}

/** The parts of a `multipart/form-data` body: `[name, value]` in order. */
function parts(text: string, contentType: string): Array<[string, string]> | null {
  const boundary = /boundary=("?)([^";]+)\1/.exec(contentType)?.[2];
  if (!contentType.startsWith("multipart/form-data") || !boundary) return null;
  const out: Array<[string, string]> = [];
  for (const part of text.split(`--${boundary}`).slice(1)) {
    if (part.startsWith("--")) break;
    const end = part.indexOf("\r\n\r\n");
    if (!part.startsWith("\r\n") || end < 0 || !part.endsWith("\r\n")) return null;
    const name = /name="([^"]*)"/.exec(part.slice(0, end))?.[1];
    if (name === undefined) return null;
    out.push([name, part.slice(end + 4, -2)]);
  }
  return out;
}

export async function fakeMailgun(o: { apiKey?: string; domain?: string; latencyMs?: number } = {}): Promise<FakeMailgun> {
  const auth = `Basic ${Buffer.from(`api:${o.apiKey ?? "key-fake"}`).toString("base64")}`;
  const domain = o.domain ?? "mg.example.test";
  const emails: FakeMailgunEmail[] = [];
  const server = await fakeServer(
    {
      refuse(r) {
        if (r.method !== "POST" || !/^\/v3\/[^/]+\/messages\.mime$/.test(r.url)) return { status: 404, body: { message: "Not Found" } };
        if (r.headers.authorization !== auth) return { status: 401, body: "Forbidden" };
        if (r.url !== `/v3/${domain}/messages.mime`) return { status: 404, body: { message: `Domain not found: ${r.url.split("/")[2]}` } };
        return null;
      },
      failure: (status) => ({ message: `injected ${status}` }),
      accept(r) {
        const fields = parts(r.text, String(r.headers["content-type"] ?? ""));
        if (!fields) return { status: 400, body: { message: "Bad multipart body" } };
        const to = fields.filter(([n]) => n === "to").map(([, v]) => v);
        const raw = fields.find(([n]) => n === "message")?.[1];
        if (to.length === 0) return { status: 400, body: { message: "'to' parameter is missing" } };
        if (!raw) return { status: 400, body: { message: "'message' parameter is missing" } };
        const variables = Object.fromEntries(fields.filter(([n]) => n.startsWith("v:")).map(([n, v]) => [n.slice(2), v]));
        const messageId = `${Date.now()}.${randomUUID().slice(0, 8)}@${domain}`;
        emails.push({ messageId, to, raw, variables });
        return { status: 200, body: { id: `<${messageId}>`, message: "Queued. Thank you." } };
      },
    },
    o.latencyMs,
  );
  return Object.assign(server, { emails });
}
