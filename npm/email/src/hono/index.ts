// `@usebetterdev/email/hono`: the handlers as Hono handlers (`app.all("/email/u/:token", unsubscribeHandler(email))`).

import type { EventProviders } from "../events";

interface WithHandlers {
  handlers: { unsubscribe(request: Request): Promise<Response>; events(request: Request, providers: EventProviders): Promise<Response> };
}

/** RFC 8058 one-click unsubscribe; mount it where `unsubscribe.baseUrl` points, with the token as the last path segment. */
export function unsubscribeHandler(email: WithHandlers): (c: { req: { raw: Request } }) => Promise<Response> {
  return (c) => email.handlers.unsubscribe(c.req.raw);
}

/** Provider events (`app.post("/email/events/:provider", emailEventsHandler(email, { resend: { secret } }))`). */
export function emailEventsHandler(email: WithHandlers, providers: EventProviders): (c: { req: { raw: Request } }) => Promise<Response> {
  return (c) => email.handlers.events(c.req.raw, providers);
}
