import { currentScopeCloser } from "../context";
import { RollbackSignal } from "../errors";
import { checkTenant, missingBody, missingStatus, runScoped, type MiddlewareTenant } from "../middleware";

/** The parts of Fastify's request, reply and instance this plugin uses. */
export interface FastifyRequestLike {
  headers: Record<string, string | string[] | undefined>;
  url: string;
  hostname?: string;
  method?: string;
}
export interface FastifyReplyLike {
  statusCode: number;
  code: (status: number) => FastifyReplyLike;
  send: (payload: unknown) => unknown;
  raw: { writableFinished: boolean; destroyed?: boolean; on: (event: "close", listener: () => void) => unknown };
}
type Done = (err?: Error) => void;
export interface FastifyInstanceLike {
  addHook(name: "onRequest" | "onResponse", hook: (request: FastifyRequestLike, reply: FastifyReplyLike, done: Done) => void): unknown;
}

export interface FastifyTenantOptions {
  missingTenantStatus?: 401 | 404;
  onMissingTenant?: (request: FastifyRequestLike, reply: FastifyReplyLike) => void | Promise<void>;
}

const END = Symbol("usebetterdev.tenant.fastify.end");
type Tracked = FastifyRequestLike & { [END]?: (how: "finish" | "close") => void };

/**
 * `app.register(fastifyTenant(tenant))`: every request runs in its tenant's transaction, from
 * `onRequest` until the response is sent. A 5xx reply or a client that disconnects rolls back
 * (and closes the handler's database handle at once); otherwise it commits.
 */
export function fastifyTenant(tenant: MiddlewareTenant, options: FastifyTenantOptions = {}) {
  checkTenant(tenant, "fastifyTenant");
  const status = missingStatus(options, "fastifyTenant");
  async function betterTenantFastify(fastify: FastifyInstanceLike) {
    fastify.addHook("onRequest", (request: Tracked, reply, done) => {
      let entered = false;
      runScoped(tenant, { headers: request.headers, url: request.url, hostname: request.hostname ?? "", method: request.method ?? "GET" }, async () => {
        const ended = new Promise<"finish" | "close">((resolve) => {
          request[END] = resolve;
        });
        const close = currentScopeCloser();
        reply.raw.on("close", () => {
          if (reply.raw.writableFinished) return;
          close();
          request[END]?.("close");
        });
        entered = true;
        done(); // the rest of the lifecycle, handler included, runs inside the scope
        const how = await ended;
        if (how === "close") throw new RollbackSignal("client closed the connection");
        if (reply.statusCode >= 500) throw new RollbackSignal(`response status ${reply.statusCode}`);
      }, () => reply.raw.destroyed === true && !reply.raw.writableFinished).then(
        async ({ missing }) => {
          if (!missing) return;
          if (options.onMissingTenant) await options.onMissingTenant(request, reply);
          else reply.code(status).send(missingBody(tenant));
        },
        (err: Error) => {
          // Before the scope opened, the error belongs to this hook; after, Fastify already moved on.
          if (!entered) done(err);
        },
      );
    });
    fastify.addHook("onResponse", (request: Tracked, _reply, done) => {
      request[END]?.("finish");
      done();
    });
  }
  // Like fastify-plugin: the hooks apply to the whole application, not an encapsulated child.
  (betterTenantFastify as unknown as Record<symbol, boolean>)[Symbol.for("skip-override")] = true;
  return betterTenantFastify;
}
