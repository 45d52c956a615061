// `@usebetterdev/email/hono`: the handlers as Hono handlers (`app.all("/email/u/:token", unsubscribeHandler(email))`).

interface WithHandlers {
  handlers: { unsubscribe(request: Request): Promise<Response> };
}

/** RFC 8058 one-click unsubscribe; mount it where `unsubscribe.baseUrl` points, with the token as the last path segment. */
export function unsubscribeHandler(email: WithHandlers): (c: { req: { raw: Request } }) => Promise<Response> {
  return (c) => email.handlers.unsubscribe(c.req.raw);
}
