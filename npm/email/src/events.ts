// `emailEventsHandler`: provider webhooks (delivery, bounce, complaint…) on the Fetch API. The
// provider is the last path segment (`/email/events/:provider`). The body is verified by the
// core before anything in it is read (401 with the reason's code otherwise); SES's SNS
// certificate is fetched from the URL the core approved and cached for an hour; an SNS
// subscription confirmation is confirmed by fetching its checked URL. The core then
// normalizes the events and authors the one statement that applies them (dedupe, correlation,
// recipient status, suppressions), run in system context.
import core, { type EmailEventOptions, type EmailEventProvider } from "@usebetter-rs/core/email-binding";
import { run, systemTransaction } from "./db";
import { lastSegment, type HandlerContext } from "./handlers";
import { hook } from "./types";

type ProviderOptions = Omit<EmailEventOptions, "now" | "certificate">;

/** Per provider, its endpoint's configuration (the keys of the core's verification). */
export interface EventProviders {
  resend?: Pick<ProviderOptions, "secret" | "toleranceSec">;
  postmark?: Pick<ProviderOptions, "username" | "password">;
  sendgrid?: Pick<ProviderOptions, "publicKey" | "toleranceSec">;
  mailgun?: Pick<ProviderOptions, "signingKey" | "toleranceSec">;
  ses?: Pick<ProviderOptions, "topicArns" | "allowSignatureV1" | "certHosts" | "certSubjects" | "trustedCa" | "toleranceSec"> & {
    /** How the SNS signing certificate is fetched (default `fetch`, TLS verified by the runtime). */
    fetchCertificate?: (url: string) => Promise<string>;
  };
}

const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", "cache-control": "no-store" } });
const CERT_TTL_MS = 3_600_000;
const certificates = new Map<string, { pem: Promise<string>; until: number }>();

async function fetchText(url: string): Promise<string> {
  const r = await fetch(url, { redirect: "error" });
  if (!r.ok) throw Object.assign(new Error(`GET ${url}: ${r.status}`), { code: "EMAIL_EVENT_CERT_REJECTED" });
  return r.text();
}

function certificate(url: string, get: (url: string) => Promise<string>): Promise<string> {
  const hit = certificates.get(url);
  if (hit && hit.until > Date.now()) return hit.pem;
  const pem = get(url);
  certificates.set(url, { pem, until: Date.now() + CERT_TTL_MS });
  pem.catch(() => certificates.delete(url));
  return pem;
}

export async function events(ctx: HandlerContext, providers: EventProviders, request: Request): Promise<Response> {
  const provider = lastSegment(request);
  const configured = Object.hasOwn(providers, provider) ? (providers as Record<string, (ProviderOptions & { fetchCertificate?: (url: string) => Promise<string> }) | undefined>)[provider] : undefined;
  if (!configured) return json(404, { code: "EMAIL_EVENT_UNKNOWN_PROVIDER", message: `no events configuration for provider ${JSON.stringify(provider)}` });
  if (request.method !== "POST") return json(405, { code: "EMAIL_INVALID_ARGUMENT", message: "events are POSTed" });
  const body = new Uint8Array(await request.arrayBuffer());
  const { fetchCertificate, ...options } = configured;
  const opts: EmailEventOptions = { ...options, now: Math.floor(Date.now() / 1000) };
  let verified;
  try {
    if (provider === "ses") opts.certificate = await certificate(core.emailSnsCertUrl(body, opts), fetchCertificate ?? fetchText);
    verified = core.emailVerifyEvent(provider as EmailEventProvider, [...request.headers], body, opts);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === "string" && code.startsWith("EMAIL_EVENT_")) return json(401, { code, message: (err as Error).message });
    throw err;
  }
  if (verified.snsType === "SubscriptionConfirmation" && verified.subscribeUrl) {
    await fetchText(verified.subscribeUrl);
    return json(200, { confirmed: true });
  }
  const plan = ctx.core.events(provider, verified.id, body);
  const applied = plan.events.length === 0 ? [] : await systemTransaction(ctx.db, (ex) => run(ex, ctx.statements, "eventsApply", plan.params));
  // Once per event, as applied: a provider's redelivery is not heard again.
  const fresh = new Set(applied.map((r) => String(r.event_id)));
  for (const e of plan.events) if (fresh.has(e.providerEventId)) hook(ctx.onEvent, { ...e, provider });
  return json(200, { received: plan.events.length, applied: applied.length });
}
