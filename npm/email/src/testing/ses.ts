// A fake Amazon SES v2 on loopback, for tests: `POST /v2/email/outbound-emails` as SES documents
// it — a SigV4 signature (service `ses`) checked against the fake's own credentials by signing
// the request again (403 `SignatureDoesNotMatch`, `UnrecognizedClientException` for another key,
// and a timestamp more than 5 minutes off), `Content.Raw.Data` (base64 MIME) and at least one
// destination required (400 `BadRequestException`), accepted mail answered `{ MessageId }`. SES
// keeps no idempotency key: every accepted request is one more email.
import { randomUUID } from "node:crypto";
import core from "@usebetter-rs/core/email-binding";
import { fakeServer, type FakeRequest, type FakeServer } from "./fake-server";

export interface FakeSesEmail {
  messageId: string;
  /** The decoded `Content.Raw.Data`: the MIME as sent. */
  raw: string;
  destinations: string[];
  from: string | null;
  /** `EmailTags` as an object. */
  tags: Record<string, string>;
  configurationSetName: string | null;
  /** The request's headers (its signature among them). */
  headers: Record<string, string>;
  body: string;
}

export interface FakeSesOptions {
  accessKeyId?: string;
  secretAccessKey?: string;
  region?: string;
  latencyMs?: number;
}

export interface FakeSes extends FakeServer {
  emails: FakeSesEmail[];
}

const error = (status: number, type: string, message: string) => ({ status, headers: { "x-amzn-ErrorType": `${type}:http://internal.amazon.com/coral/com.amazonaws.sesv2/` }, body: { message } });

/** `x-amz-date` (`20260101T000000Z`) as ms since the epoch. */
const amzTime = (v: string) => Date.parse(`${v.slice(0, 4)}-${v.slice(4, 6)}-${v.slice(6, 11)}:${v.slice(11, 13)}:${v.slice(13, 15)}Z`);

export async function fakeSes(o: FakeSesOptions = {}): Promise<FakeSes> {
  const keyId = o.accessKeyId ?? "AKIDFAKESES";
  const secret = o.secretAccessKey ?? "fake/ses/secret";
  const region = o.region ?? "eu-west-1";
  const emails: FakeSesEmail[] = [];

  /** Null when the signature is the one the fake's credentials give, else the refusal. */
  function unsigned(r: FakeRequest) {
    const auth = String(r.headers.authorization ?? "");
    const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/.exec(auth);
    if (!m) return error(403, "MissingAuthenticationTokenException", "Missing or malformed Authorization header");
    const [, id, , scopeRegion, service, signed, signature] = m;
    if (id !== keyId) return error(403, "UnrecognizedClientException", "The security token included in the request is invalid.");
    const date = String(r.headers["x-amz-date"] ?? "");
    const at = amzTime(date);
    if (!Number.isFinite(at) || Math.abs(Date.now() - at) > 5 * 60_000) return error(403, "InvalidSignatureException", "Signature expired or not yet current.");
    const names = signed!.split(";");
    const own = new Set(["host", "x-amz-date", "x-amz-security-token"]);
    const token = r.headers["x-amz-security-token"];
    const again = core.emailSigV4({
      method: r.method,
      host: String(r.headers.host ?? ""),
      path: r.url.split("?")[0]!,
      headers: names.filter((n) => !own.has(n)).map((n) => [n, String(r.headers[n] ?? "")] as [string, string]),
      body: r.text,
      region: scopeRegion!,
      service: service!,
      accessKeyId: keyId,
      secretAccessKey: secret,
      ...(typeof token === "string" ? { sessionToken: token } : {}),
      nowMs: at,
    });
    if (scopeRegion !== region || service !== "ses" || !names.includes("host") || again.signature !== signature) {
      return error(403, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided.");
    }
    return null;
  }

  const server = await fakeServer(
    {
      refuse(r) {
        if (r.method !== "POST" || r.url !== "/v2/email/outbound-emails") return error(404, "NotFoundException", "Not found");
        return unsigned(r);
      },
      failure: (status) => ({ message: `injected ${status}` }),
      accept(r) {
        let body: { Content?: { Raw?: { Data?: unknown } }; Destination?: { ToAddresses?: unknown }; FromEmailAddress?: unknown; EmailTags?: unknown; ConfigurationSetName?: unknown };
        try {
          body = JSON.parse(r.text);
        } catch {
          return error(400, "BadRequestException", "Invalid JSON");
        }
        const data = body.Content?.Raw?.Data;
        const to = body.Destination?.ToAddresses;
        if (typeof data !== "string" || data === "" || !Array.isArray(to) || to.length === 0) {
          return error(400, "BadRequestException", "Content.Raw.Data and at least one destination are required.");
        }
        const tags: Record<string, string> = {};
        for (const t of Array.isArray(body.EmailTags) ? (body.EmailTags as { Name: string; Value: string }[]) : []) tags[t.Name] = t.Value;
        const messageId = `0102${randomUUID().replace(/-/g, "")}-000000`;
        emails.push({
          messageId,
          raw: Buffer.from(data, "base64").toString(),
          destinations: to.map(String),
          from: typeof body.FromEmailAddress === "string" ? body.FromEmailAddress : null,
          tags,
          configurationSetName: typeof body.ConfigurationSetName === "string" ? body.ConfigurationSetName : null,
          headers: Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, String(v)])),
          body: r.text,
        });
        return { status: 200, body: { MessageId: messageId } };
      },
    },
    o.latencyMs,
  );
  return Object.assign(server, { emails });
}
