// The HTTP handlers on the Fetch API (`Request` → `Response`), which Hono, Next.js route
// handlers and every edge runtime speak; `/hono` and `/express` adapt them.
//
// One-click unsubscribe (RFC 8058): the token in the URL is verified by the core before
// anything else (no database read for a forged one: 404). A POST carrying
// `List-Unsubscribe=One-Click` (urlencoded or multipart, no cookies or login) adds the
// suppression and answers 200 without a redirect (§3.1 forbids one); repeating it changes
// nothing. A GET only shows a page with a button that POSTs the same field: mail scanners
// prefetch links, so a GET never unsubscribes.
import type { EmailHookEvent } from "./types";
import type { Email as CoreEmail } from "@usebetter-rs/core/email-binding";
import { run, systemTransaction, type EmailDatabase, type Statements } from "./db";

export interface HandlerContext {
  core: CoreEmail;
  db: EmailDatabase;
  statements: Statements;
  onEvent?: (e: EmailHookEvent) => unknown;
}

const text = (status: number, body: string, extra: Record<string, string> = {}) =>
  new Response(body, { status, headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store", ...extra } });

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>Unsubscribe</title></head>
<body><p>Stop receiving these emails?</p>
<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click"><button type="submit">Unsubscribe</button></form>
</body></html>`;

/** The last segment of the request's path (the token, the provider), decoded; "" if none or malformed. */
export function lastSegment(request: Request): string {
  const last = new URL(request.url).pathname.split("/").filter(Boolean).at(-1) ?? "";
  try {
    return decodeURIComponent(last);
  } catch {
    return "";
  }
}

export async function unsubscribe(ctx: HandlerContext, request: Request): Promise<Response> {
  let params: unknown[];
  try {
    params = ctx.core.unsubscribe(lastSegment(request), false).params;
  } catch (err) {
    if ((err as { code?: unknown }).code === "EMAIL_UNSUBSCRIBE_TOKEN_INVALID") return text(404, "This unsubscribe link is not valid.");
    throw err;
  }
  if (request.method === "GET" || request.method === "HEAD") {
    return new Response(request.method === "HEAD" ? null : PAGE, { status: 200, headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" } });
  }
  if (request.method !== "POST") return text(405, "Use POST to unsubscribe.", { allow: "GET, HEAD, POST" });
  const form = await request.formData().catch(() => undefined);
  if (form?.get("List-Unsubscribe") !== "One-Click") return text(400, "Expected the form field List-Unsubscribe=One-Click (RFC 8058).");
  await systemTransaction(ctx.db, (ex) => run(ex, ctx.statements, "suppressionAdd", params));
  return text(200, "You have been unsubscribed.");
}
