// A fake Postmark on loopback, for tests: `POST /email` as Postmark documents it — the
// `X-Postmark-Server-Token` header (401, ErrorCode 10), `From`, `To` and `Subject` required (422,
// ErrorCode 300), recipients marked inactive refused (422, ErrorCode 406, naming them), accepted
// mail answered `{ To, SubmittedAt, MessageID, ErrorCode: 0, Message: "OK" }`. Postmark keeps no
// idempotency key: every accepted request is one more email. Plus `failNext` and `dropNext`.
import { randomUUID } from "node:crypto";
import { fakeServer, type FakeServer } from "./fake-server";

export interface FakePostmarkEmail {
  messageId: string;
  body: Record<string, unknown>;
}

export interface FakePostmark extends FakeServer {
  /** Emails accepted, once per accepted request. */
  emails: FakePostmarkEmail[];
  /** Marks an address inactive (a hard bounce or complaint Postmark saw). */
  deactivate(address: string): void;
}

export async function fakePostmark(o: { serverToken?: string; latencyMs?: number } = {}): Promise<FakePostmark> {
  const token = o.serverToken ?? "pm_test";
  const inactive = new Set<string>();
  const emails: FakePostmarkEmail[] = [];
  const addresses = (v: unknown) =>
    typeof v === "string" && v !== ""
      ? v.split(",").map((a) => (a.match(/<([^>]+)>\s*$/)?.[1] ?? a).trim().toLowerCase())
      : [];
  const server = await fakeServer(
    {
      refuse(r) {
        if (r.method !== "POST" || r.url !== "/email") return { status: 404, body: { ErrorCode: 404, Message: "Not found" } };
        if (r.headers["x-postmark-server-token"] !== token) {
          return { status: 401, body: { ErrorCode: 10, Message: "The Server Token you provided in the X-Postmark-Server-Token request header was invalid." } };
        }
        return null;
      },
      failure: (status) => ({ ErrorCode: status, Message: `injected ${status}` }),
      accept(r) {
        let body: Record<string, unknown>;
        try {
          body = JSON.parse(r.text) as Record<string, unknown>;
        } catch {
          return { status: 400, body: { ErrorCode: 402, Message: "Received invalid JSON input." } };
        }
        const to = [...addresses(body.To), ...addresses(body.Cc), ...addresses(body.Bcc)];
        if (typeof body.From !== "string" || to.length === 0 || typeof body.Subject !== "string") {
          return { status: 422, body: { ErrorCode: 300, Message: "Invalid email request: From, To and Subject are required." } };
        }
        const dead = to.filter((a) => inactive.has(a));
        if (dead.length === to.length) {
          return {
            status: 422,
            body: {
              ErrorCode: 406,
              Message: `You tried to send to recipient(s) that have been marked as inactive. Found inactive addresses: ${dead.join(", ")}. Inactive recipients are ones that have generated a hard bounce or a spam complaint.`,
            },
          };
        }
        const messageId = randomUUID();
        emails.push({ messageId, body });
        return { status: 200, body: { To: body.To, SubmittedAt: new Date().toISOString(), MessageID: messageId, ErrorCode: 0, Message: "OK" } };
      },
    },
    o.latencyMs,
  );
  return Object.assign(server, { emails, deactivate: (address: string) => void inactive.add(address.toLowerCase()) });
}
