// The loopback server behind each fake provider: it counts and times every request, answers the
// injected failures (`failNext`) after the provider's own authentication, and drops the
// connection after accepting a message (`dropNext`), which is what makes an outcome ambiguous.
// Each fake supplies only what its provider documents: the route, the credentials check, and
// how a message is validated and accepted.
import type { IncomingHttpHeaders } from "node:http";

export interface FakeRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  text: string;
}

export interface FakeReply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export interface FakeProvider {
  /** A reply for a request to a path the provider does not serve, or with bad credentials. */
  refuse(r: FakeRequest): FakeReply | null;
  /** The body of an injected failure without one of its own. */
  failure(status: number): unknown;
  /** Validates and records the message; a 2xx reply means it was accepted. */
  accept(r: FakeRequest): FakeReply;
}

export interface FakeServer {
  /** The base URL to give the transport's `baseUrl`. */
  url: string;
  /** Every request received, accepted or not. */
  requests: number;
  /** When each request arrived (`performance.now()` milliseconds), in order. */
  requestTimes: number[];
  /** Answers the next authenticated request with `status` (and `headers`, `body`) instead. */
  failNext(status: number, o?: { headers?: Record<string, string>; body?: unknown }): void;
  /** Accepts the next message, then drops the connection without answering. */
  dropNext(): void;
  close(): Promise<void>;
}

export async function fakeServer(provider: FakeProvider, latencyMs = 0): Promise<FakeServer> {
  const { createServer } = await import("node:http");
  const failures: FakeReply[] = [];
  let drop = 0;
  const state = { requests: 0, requestTimes: [] as number[] };
  const server = createServer((req, res) => {
    state.requestTimes.push(performance.now());
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      state.requests++;
      const r: FakeRequest = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, text: Buffer.concat(chunks).toString() };
      // A reply without a body (SendGrid's 202) is sent empty.
      const send = (a: FakeReply) => setTimeout(() => res.writeHead(a.status, { "content-type": "application/json", ...a.headers }).end(a.body === undefined ? "" : JSON.stringify(a.body)), latencyMs);
      const refused = provider.refuse(r);
      if (refused) return send(refused);
      const failure = failures.shift();
      if (failure) return send(failure);
      const reply = provider.accept(r);
      if (reply.status < 300 && drop > 0) {
        drop--;
        return req.socket.destroy();
      }
      send(reply);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    get requests() {
      return state.requests;
    },
    get requestTimes() {
      return state.requestTimes;
    },
    failNext: (status, f = {}) => void failures.push({ status, body: f.body ?? provider.failure(status), ...(f.headers ? { headers: f.headers } : {}) }),
    dropNext: () => void drop++,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
