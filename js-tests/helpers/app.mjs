// A migrated database with two tenants and their projects, plus a Drizzle client on a small
// pool, as the application role (not superuser, not BYPASSRLS, owner under FORCE RLS).
import pg from "pg";
import { drizzle } from "drizzle-orm/node-postgres";
import { pgTable, serial, text } from "drizzle-orm/pg-core";
import core from "@usebetter-rs/core";
import { tenantId } from "@usebetterdev/tenant/drizzle";
import { connectAs, fixture, freshDatabase, requireEnv } from "./db.mjs";

export const projects = pgTable("projects", { id: serial("id").primaryKey(), ...tenantId, name: text("name").notNull() });

export async function tenantDatabase(prefix, { poolSize = 2, hardened } = {}) {
  const db = await freshDatabase(prefix);
  const c = await connectAs("app", "app", db.name);
  await c.query(fixture("schema.sql"));
  await c.query(core.generateMigrationSql({ tenantTables: ["projects", "tasks"] }));
  await c.query("BEGIN; SELECT set_config('app.bypass_rls', 'true', true)");
  const { rows } = await c.query(
    "INSERT INTO tenants (name, slug) VALUES ('Acme', 'acme'), ('Globex', 'globex') RETURNING id::text, slug",
  );
  const ids = Object.fromEntries(rows.map((r) => [r.slug, r.id]));
  await c.query("INSERT INTO projects (tenant_id, name) VALUES ($1, 'acme-1'), ($1, 'acme-2'), ($2, 'globex-1')", [ids.acme, ids.globex]);
  await c.query("COMMIT");
  await c.end();
  const url = new URL(requireEnv("DATABASE_URL"));
  url.pathname = `/${db.name}`;
  const pool = new pg.Pool({ connectionString: url.toString(), max: poolSize, connectionTimeoutMillis: 5000 });
  return {
    ids,
    pool,
    db: drizzle(pool),
    url: url.toString(),
    async close() {
      await pool.end();
      await db.drop();
    },
    hardened,
  };
}

/** Row names a query returned, sorted. */
export const names = (rows) => rows.map((r) => r.name).sort();

/** Named statements' texts, by name, from every Parse a watched connection wrote. */
const preparedTexts = new Map();

/**
 * Runs `fn` with the statement texts and wire events of a pool's one connection recorded: the
 * SQL written (each simple query's text, each unnamed Parse's and each Bind of a named
 * statement's, in wire order), the first byte of each
 * message written (Q simple query; P, B, D, E, S extended), `write` for each write that reaches
 * the socket, `ready` for each ReadyForQuery; `binds`: each Bind's values. The connection goes back as it was lent (not
 * pipelining).
 */
export async function watched(pool, fn) {
  const texts = [];
  const events = [];
  const binds = [];
  const client = await pool.connect();
  const { query } = client;
  const stream = client.connection.stream;
  const { write, _write: writeOne, _writev: writeMany } = stream;
  // The scope replaces and restores `query`; the connection must come back with this one.
  const watching = function (...args) {
    return query.apply(this, args);
  };
  client.query = watching;
  const cstring = (buf, at) => buf.toString("utf8", at, buf.indexOf(0, at));
  stream.write = function (chunk, ...rest) {
    const buf = Buffer.from(chunk);
    for (let i = 0; i < buf.length; i += 1 + buf.readInt32BE(i + 1)) {
      const type = String.fromCharCode(buf[i]);
      events.push(type);
      if (type === "Q") texts.push(cstring(buf, i + 5));
      // Parse: the statement's name, then its text. A named statement counts where it is bound
      // (Bind: the portal, then the statement's name), so a prepared one counts each time it runs.
      if (type === "P") {
        const name = cstring(buf, i + 5);
        const text = cstring(buf, buf.indexOf(0, i + 5) + 1);
        if (name) preparedTexts.set(name, text);
        else texts.push(text);
      }
      if (type === "B") {
        const at = buf.indexOf(0, i + 5) + 1;
        const name = cstring(buf, at);
        if (name) texts.push(preparedTexts.get(name) ?? `<prepared ${name}>`);
        // The values, as text (every value this package binds is text): after the format codes.
        let p = buf.indexOf(0, at) + 1;
        p += 2 + 2 * buf.readInt16BE(p);
        const values = [];
        for (let n = buf.readInt16BE(p), k = 0, q = p + 2; k < n; k++) {
          const len = buf.readInt32BE(q);
          values.push(len < 0 ? null : buf.toString("utf8", q + 4, q + 4 + len));
          q += 4 + Math.max(len, 0);
        }
        binds.push(values);
      }
    }
    return write.call(this, chunk, ...rest);
  };
  stream._write = function (...args) {
    events.push("write");
    return writeOne.apply(this, args);
  };
  stream._writev = function (...args) {
    events.push("write");
    return writeMany.apply(this, args);
  };
  const onReady = () => events.push("ready");
  client.connection.on("readyForQuery", onReady);
  client.release();
  try {
    return { result: await fn(), texts, events, binds };
  } finally {
    const again = await pool.connect();
    // The scope gave the connection its query back as it found it.
    if (again.query !== watching) throw new Error("the connection came back with another query function");
    again.query = query;
    Object.assign(again.connection.stream, { write, _write: writeOne, _writev: writeMany });
    again.connection.off("readyForQuery", onReady);
    if (again.pipeline !== false) throw new Error("the connection came back pipelining");
    // Statements prepared before the window opened: their texts, from the server that holds them.
    if (texts.some((t) => t.startsWith("<prepared "))) {
      const { rows } = await again.query("select name, statement from pg_prepared_statements");
      for (const row of rows) preparedTexts.set(row.name, row.statement);
      texts.forEach((t, i) => {
        const name = /^<prepared (.*)>$/.exec(t)?.[1];
        if (name !== undefined && preparedTexts.has(name)) texts[i] = preparedTexts.get(name);
      });
    }
    again.release();
  }
}
