// `@usebetterdev/email/express`: the handlers as Express (or plain `node:http`) handlers
// (`app.all("/email/u/:token", unsubscribeHandler(email))`). The request is read as the Fetch
// API's `Request`, so every framework runs the same code; mount no body parser before it.
import type { IncomingMessage, ServerResponse } from "node:http";

import type { EventProviders } from "../events";

interface WithHandlers {
  handlers: { unsubscribe(request: Request): Promise<Response>; events(request: Request, providers: EventProviders): Promise<Response> };
}

async function toRequest(req: IncomingMessage & { originalUrl?: string }): Promise<Request> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const headers = new Headers();
  for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers.set(k, v);
  const url = new URL(req.originalUrl ?? req.url ?? "/", `http://${req.headers.host ?? "localhost"}`);
  const method = req.method ?? "GET";
  return new Request(url, { method, headers, ...(method === "GET" || method === "HEAD" ? {} : { body: Buffer.concat(chunks) }) });
}

async function send(res: ServerResponse, r: Response): Promise<void> {
  res.statusCode = r.status;
  r.headers.forEach((v, k) => res.setHeader(k, v));
  res.end(Buffer.from(await r.arrayBuffer()));
}

function mount(handle: (request: Request) => Promise<Response>) {
  return (req: IncomingMessage, res: ServerResponse, next?: (err: unknown) => void): void => {
    toRequest(req)
      .then(handle)
      .then((r) => send(res, r))
      .catch((err) => (next ? next(err) : ((res.statusCode = 500), res.end())));
  };
}

/** RFC 8058 one-click unsubscribe; errors go to `next` when Express gives one. */
export function unsubscribeHandler(email: WithHandlers) {
  return mount((r) => email.handlers.unsubscribe(r));
}

/** Provider events at `/…/:provider`; mount no body parser before it (the signature covers the raw body). */
export function emailEventsHandler(email: WithHandlers, providers: EventProviders) {
  return mount((r) => email.handlers.events(r, providers));
}
