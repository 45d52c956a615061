// `@usebetterdev/webhooks/fastify`: `app.register(webhookReceiver({ secret, handler }), { prefix: "/webhooks" })`.
// A Fastify plugin with one POST route (`path`, default "/"). Verification needs the body's exact
// bytes, and Fastify parses JSON before a handler runs, so the plugin's own (encapsulated) scope
// replaces every content-type parser with one that keeps the bytes: a JSON parser the app
// registered, or Fastify's default one, never sees these requests.
import { checkReceiverOptions, receive, tooLarge, DEFAULT_MAX_BODY_BYTES, type WebhookReceiverOptions } from "../receiver/handle";
import type { InboxExecutor } from "../receiver/inbox";
import { PORTAL_MAX_BODY, portalRouter, type PortalOptions, type PortalWebhooks } from "../portal/routes";

export interface FastifyRequestLike {
  body: unknown;
  headers: Record<string, string | string[] | undefined>;
}
export interface FastifyReplyLike {
  code(status: number): FastifyReplyLike;
  header(name: string, value: string): FastifyReplyLike;
  send(body: string): unknown;
}
type Done = (err: Error | null, body?: unknown) => void;
export interface FastifyInstanceLike {
  removeAllContentTypeParsers(): unknown;
  addContentTypeParser(type: string, opts: { parseAs: "buffer"; bodyLimit: number }, parser: (req: unknown, body: Buffer, done: Done) => void): unknown;
  setErrorHandler(handler: (err: { code?: string; statusCode?: number }, req: FastifyRequestLike, reply: FastifyReplyLike) => unknown): unknown;
  post(path: string, handler: (req: FastifyRequestLike, reply: FastifyReplyLike) => Promise<unknown>): unknown;
}
export type FastifyWebhookPlugin = (fastify: FastifyInstanceLike) => Promise<void>;

const send = (reply: FastifyReplyLike, status: number, body: unknown) => reply.code(status).header("content-type", "application/json").send(JSON.stringify(body));

/** A Fastify plugin whose POST route verifies the delivery and runs `handler` (once per id with `inbox`). */
export function webhookReceiver<Tx extends InboxExecutor = InboxExecutor>(opts: WebhookReceiverOptions<Tx> & { path?: string }): FastifyWebhookPlugin {
  checkReceiverOptions(opts);
  const max = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const path = opts.path ?? "/";
  return async function webhookReceiverFastify(fastify) {
    fastify.removeAllContentTypeParsers();
    fastify.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: max }, (_req, body, done) => done(null, body));
    fastify.setErrorHandler((err, _req, reply) => {
      if (err.code === "FST_ERR_CTP_BODY_TOO_LARGE") {
        const r = tooLarge(max);
        return send(reply, r.status, r.body);
      }
      throw err;
    });
    fastify.post(path, async (req, reply) => {
      const body = req.body instanceof Uint8Array ? req.body : new Uint8Array(0);
      const r = await receive(opts, body, req.headers);
      return send(reply, r.status, r.body);
    });
  };
}

export interface FastifyPortalRequest extends FastifyRequestLike {
  method: string;
  url: string;
}
export interface FastifyPortalInstanceLike extends Omit<FastifyInstanceLike, "post"> {
  prefix: string;
  all(path: string, handler: (req: FastifyPortalRequest, reply: FastifyReplyLike) => Promise<unknown>): unknown;
}

/**
 * The portal's JSON routes (spec §11) as a Fastify plugin:
 * `app.register(portalHandlers(webhooks, { authorize: (req) => tenantOf(req) }), { prefix: "/api/webhooks" })`.
 * Its scope reads bodies as text (the portal parses them, empty ones included), whatever parser
 * the app registered.
 */
export function portalHandlers<R extends FastifyPortalRequest>(webhooks: PortalWebhooks, opts: PortalOptions<R>): (fastify: FastifyPortalInstanceLike) => Promise<void> {
  // Fastify strips its prefix itself; the route sees the path below it.
  const route = portalRouter(webhooks, { authorize: opts.authorize });
  return async function webhooksPortalFastify(fastify) {
    fastify.removeAllContentTypeParsers();
    fastify.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: PORTAL_MAX_BODY }, (_req, body, done) => done(null, body));
    fastify.setErrorHandler((err, _req, reply) => {
      if (err.code === "FST_ERR_CTP_BODY_TOO_LARGE") return send(reply, 413, { error: { code: "WEBHOOKS_INVALID_ARGUMENT", message: `invalid \`body\`: larger than ${PORTAL_MAX_BODY} bytes` } });
      throw err;
    });
    fastify.all("/*", async (req, reply) => {
      const url = new URL(req.url, "http://portal.invalid");
      const path = url.pathname.slice(fastify.prefix.length) || "/";
      const body = req.body instanceof Uint8Array ? new TextDecoder().decode(req.body) : "";
      const a = await route(req as R, { method: req.method, path, query: url.searchParams, text: async () => body });
      if (a === null) return send(reply, 404, { error: { code: "WEBHOOKS_NOT_FOUND", message: "not a portal route" } });
      return a.body === undefined ? reply.code(a.status).send("") : send(reply, a.status, a.body);
    });
  };
}

export { webhooksInbox, type InboxDatabase, type InboxExecutor, type InboxOptions, type WebhooksInbox } from "../receiver/inbox";
export type { WebhookReceiverOptions } from "../receiver/handle";
export type { Authorize, PortalOptions, PortalWebhooks } from "../portal/routes";
