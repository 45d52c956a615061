// `@usebetterdev/webhooks/hono`: `app.post("/webhooks", webhookReceiver({ secret, handler }))`.
// The body is read through Hono's request cache as bytes, so a middleware before it that read
// `c.req.json()` or `c.req.text()` leaves the same bytes to verify.
import { checkReceiverOptions, receive, tooLarge, DEFAULT_MAX_BODY_BYTES, type WebhookReceiverOptions } from "../receiver/handle";
import type { InboxExecutor } from "../receiver/inbox";
import { portalRouter, toResponse, type PortalOptions, type PortalWebhooks } from "../portal/routes";

export interface HonoContextLike {
  req: { raw: Request; arrayBuffer(): Promise<ArrayBuffer> };
}
export type HonoWebhookHandler = (c: HonoContextLike) => Promise<Response>;

function answer(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

/** A Hono handler that verifies the delivery and runs `handler` (once per id with `inbox`). */
export function webhookReceiver<Tx extends InboxExecutor = InboxExecutor>(opts: WebhookReceiverOptions<Tx>): HonoWebhookHandler {
  checkReceiverOptions(opts);
  const max = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  return async function webhookReceiverHono(c) {
    if (Number(c.req.raw.headers.get("content-length") ?? 0) > max) {
      const r = tooLarge(max);
      return answer(r.status, r.body);
    }
    const body = new Uint8Array(await c.req.arrayBuffer());
    const r = await receive(opts, body, c.req.raw.headers);
    return answer(r.status, r.body);
  };
}

/**
 * The portal's JSON routes (spec §11) as one Hono handler:
 * `app.all("/api/webhooks/*", portalHandlers(webhooks, { authorize: (c) => tenantOf(c), basePath: "/api/webhooks" }))`.
 * The body is read through Hono's request cache, so a middleware that read it first is no harm.
 */
export function portalHandlers<C extends HonoContextLike>(webhooks: PortalWebhooks, opts: PortalOptions<C>): (c: C) => Promise<Response> {
  const route = portalRouter(webhooks, opts);
  return async (c) => {
    const url = new URL(c.req.raw.url);
    const text = async (max: number) => {
      if (Number(c.req.raw.headers.get("content-length") ?? 0) > max) return null;
      const bytes = new Uint8Array(await c.req.arrayBuffer());
      return bytes.byteLength > max ? null : new TextDecoder().decode(bytes);
    };
    return toResponse(await route(c, { method: c.req.raw.method, path: url.pathname, query: url.searchParams, text }));
  };
}

export { webhooksInbox, type InboxDatabase, type InboxExecutor, type InboxOptions, type WebhooksInbox } from "../receiver/inbox";
export type { WebhookReceiverOptions } from "../receiver/handle";
export type { Authorize, PortalOptions, PortalWebhooks } from "../portal/routes";
