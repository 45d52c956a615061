// `@usebetterdev/webhooks/express`: `app.post("/webhooks", webhookReceiver({ secret, handler }))`.
// Verification needs the body's exact bytes. The receiver reads the request stream itself when
// nothing read it before; when a parser mounted earlier did, it uses the bytes that parser kept:
// `req.rawBody` (`express.json({ verify: keepRawBody })`, NestJS's `rawBody: true`) or a
// `Buffer`/string `req.body` (`express.raw()`, `express.text()`). A body parsed into an object
// without its bytes cannot be verified, and the answer says how to keep them.
import { checkReceiverOptions, receive, tooLarge, DEFAULT_MAX_BODY_BYTES, type ReceiverAnswer, type WebhookReceiverOptions } from "../receiver/handle";
import type { InboxExecutor } from "../receiver/inbox";
import { portalRouter, type PortalOptions, type PortalWebhooks } from "../portal/routes";

export interface ExpressRequestLike extends AsyncIterable<unknown> {
  headers: Record<string, string | string[] | undefined>;
  body?: unknown;
  rawBody?: unknown;
  readable?: boolean;
  readableEnded?: boolean;
}
export interface ExpressResponseLike {
  statusCode: number;
  setHeader(name: string, value: string): unknown;
  end(body: string): unknown;
}
export type ExpressNextFunction = (error?: unknown) => void;
export type ExpressWebhookHandler = (req: ExpressRequestLike, res: ExpressResponseLike, next: ExpressNextFunction) => Promise<void>;

const encoder = new TextEncoder();

/** `express.json({ verify: keepRawBody })`: keeps the bytes the parser read on `req.rawBody`. */
export function keepRawBody(req: { rawBody?: unknown }, _res: unknown, buf: Uint8Array): void {
  req.rawBody = buf;
}

function asBytes(value: unknown): Uint8Array | undefined {
  if (value instanceof Uint8Array) return value;
  if (typeof value === "string") return encoder.encode(value);
  return undefined;
}

/** The stream's bytes, or `null` when they exceed `max` (the rest is drained, not kept). */
async function readStream(req: ExpressRequestLike, max: number): Promise<Uint8Array | null> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of req) {
    const bytes = asBytes(chunk) ?? new Uint8Array(0);
    size += bytes.byteLength;
    if (size <= max) chunks.push(bytes);
  }
  if (size > max) return null;
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

const PARSED_BEFORE: ReceiverAnswer = {
  status: 500,
  body: {
    error: {
      code: "WEBHOOKS_INVALID_CONFIG",
      message:
        "the request body was parsed by a middleware mounted before webhookReceiver and its raw bytes were not kept, so the signature cannot be verified: mount webhookReceiver before express.json(), or use express.json({ verify: keepRawBody }) (keepRawBody from @usebetterdev/webhooks/express)",
    },
  },
};

/** An Express handler that verifies the delivery and runs `handler` (once per id with `inbox`). */
export function webhookReceiver<Tx extends InboxExecutor = InboxExecutor>(opts: WebhookReceiverOptions<Tx>): ExpressWebhookHandler {
  checkReceiverOptions(opts);
  const max = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  return async function webhookReceiverExpress(req, res, next) {
    try {
      let r: ReceiverAnswer;
      const kept = asBytes(req.rawBody) ?? asBytes(req.body);
      if (kept !== undefined) r = await receive(opts, kept, req.headers);
      else if (req.readableEnded === true || req.readable === false) r = PARSED_BEFORE;
      else if (Number(req.headers["content-length"] ?? 0) > max) r = tooLarge(max);
      else {
        const body = await readStream(req, max);
        r = body === null ? tooLarge(max) : await receive(opts, body, req.headers);
      }
      res.statusCode = r.status;
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify(r.body));
    } catch (err) {
      next(err);
    }
  };
}

/** The request parts the portal reads (Express strips the mount path from `url`). */
export interface ExpressPortalRequest extends ExpressRequestLike {
  method: string;
  url: string;
}

/**
 * The portal's JSON routes (spec §11) as one middleware:
 * `app.use("/api/webhooks", portalHandlers(webhooks, { authorize: (req) => tenantOf(req) }))`.
 * Works with or without `express.json()` mounted before it; a request outside `basePath` goes
 * on to the next handler.
 */
export function portalHandlers<R extends ExpressPortalRequest>(webhooks: PortalWebhooks, opts: PortalOptions<R>) {
  const route = portalRouter(webhooks, opts);
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return async function webhooksPortalExpress(req: R, res: ExpressResponseLike, next: ExpressNextFunction): Promise<void> {
    try {
      const url = new URL(req.url, "http://portal.invalid");
      const kept = asBytes(req.rawBody) ?? asBytes(req.body);
      // A parser before the portal consumed the stream and left the parsed value.
      const consumed = kept === undefined && (req.readableEnded === true || req.readable === false);
      const text = async (max: number) => {
        if (kept !== undefined) return kept.byteLength > max ? null : decode(kept);
        if (Number(req.headers["content-length"] ?? 0) > max) return null;
        const bytes = await readStream(req, max);
        return bytes === null ? null : decode(bytes);
      };
      const a = await route(req, { method: req.method, path: url.pathname, query: url.searchParams, text, ...(consumed ? { parsed: { value: req.body } } : {}) });
      if (a === null) return next();
      res.statusCode = a.status;
      if (a.body === undefined) res.end("");
      else {
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify(a.body));
      }
    } catch (err) {
      next(err);
    }
  };
}

export { webhooksInbox, type InboxDatabase, type InboxExecutor, type InboxOptions, type WebhooksInbox } from "../receiver/inbox";
export type { WebhookReceiverOptions } from "../receiver/handle";
export type { Authorize, PortalOptions, PortalWebhooks } from "../portal/routes";
