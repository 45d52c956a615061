// Reads alone as named prepared statements. Parsing a read and planning it under the tables'
// policies costs PostgreSQL about as much as running it (pgbench, one client: a read alone's
// set-up and a 20-row read by tenant take ~170 us unnamed, ~90 us prepared), and drizzle's
// statements are unnamed, so every request paid both again. A read alone that repeats
// on a connection is therefore prepared there under a name of ours the first time and only bound
// after that; PostgreSQL keeps its plan. The plan stays right for every tenant: the policies read
// the scope's settings in subqueries evaluated when the statement runs, not when it is planned,
// and PostgreSQL replans a statement whose tables, role or search_path changed.
//
// Names are unique per process (a random part and a counter), at most NAMES_PER_CONNECTION
// per connection (later texts stay unnamed, so a stream of distinct texts cannot grow a
// connection's memory without bound), and never reused: a read that fails where the server may
// or may not have kept its statement retires the name (see retire). A connection where a name
// it prepared is unknown (26000: a pooler in transaction mode hands it to another server, or
// the app ran DEALLOCATE or DISCARD) prepares nothing more. A failed read runs again in the
// scope's transaction, unnamed (see lane.ts), so its caller gets the answer it would have had.

import core from "@usebetter-rs/core";
import type { Setup } from "./alone";

/** Named statements a connection holds at most. */
const NAMES_PER_CONNECTION = 100;

/**
 * The core's prefix, then 64 random bits: a pooler between several processes and the server
 * must never see two of them use one name for different statements.
 */
function processPrefix(): string {
  const bits = new Uint32Array(2);
  globalThis.crypto.getRandomValues(bits);
  return `${core.tenantContract().preparedPrefix}${[...bits].map((b) => b.toString(16).padStart(8, "0")).join("")}_`;
}

let prefix: string | undefined;
const UNKNOWN_STATEMENT = "26000";

let made = 0;

/** `sent`: names of set-ups whose Parse this package wrote itself (node-postgres tracks only its queries'). */
type Named = { names: Map<string, string>; count: number; off: boolean; sent: Set<string> };
type Connection = { parsedStatements?: Record<string, unknown>; submittedNamedStatements?: Record<string, unknown> };

/** Per client (its connection lives as long as it does). */
const byClient = new WeakMap<object, Named>();

/** The name `text` runs under on `client`, or undefined when it runs unnamed. */
export function nameFor(client: object, text: string): string | undefined {
  let named = byClient.get(client);
  if (!named) byClient.set(client, (named = { names: new Map(), count: 0, off: false, sent: new Set() }));
  if (named.off) return undefined;
  let name = named.names.get(text);
  if (name === undefined && named.count < NAMES_PER_CONNECTION) {
    named.count++;
    name = `${(prefix ??= processPrefix())}${(made++).toString(36)}`;
    named.names.set(text, name);
  }
  return name;
}

/** A read's set-up on `client`: prepared under a name of its own when `prepare`, parsed with its first use. */
export function setupOf(client: object, statement: { sql: string; params: readonly string[] }, prepare: boolean): Setup {
  const name = prepare ? nameFor(client, statement.sql) : undefined;
  if (name === undefined) return { text: statement.sql, values: statement.params, name, parse: true };
  const sent = byClient.get(client)!.sent;
  const parse = !sent.has(name);
  sent.add(name);
  return { text: statement.sql, values: statement.params, name, parse };
}

/** Errors after which a statement the server holds can never run again. */
const STALE = new Set([UNKNOWN_STATEMENT, "0A000"]);

/**
 * A read under `name` failed on `client` with `error`. Kept when the server holds the statement
 * and can run it again: it was parsed before (`parsedHere` false) and the error is the
 * server's about this run (a value that does not fit, a timeout). Otherwise retired: its Parse
 * may have failed, node-postgres closed it (a value it could not write), or its plan is stale
 * (0A000: its result type changed). When the server lost it (26000) the connection names
 * nothing more.
 */
export function retire(client: object, text: string, name: string, error: unknown, parsedHere: boolean): void {
  const named = byClient.get(client);
  if (!named) return;
  const code = (error as { code?: unknown } | null)?.code;
  const fromServer = typeof (error as { severity?: unknown } | null)?.severity === "string";
  if (fromServer && !parsedHere && !STALE.has(code as string)) return;
  if (named.names.get(text) === name) named.names.delete(text);
  named.sent.delete(name);
  // node-postgres records a name as parsed at its submission; the next use must not skip Parse.
  const connection = (client as { connection?: Connection }).connection;
  if (connection?.parsedStatements) delete connection.parsedStatements[name];
  if (connection?.submittedNamedStatements) delete connection.submittedNamedStatements[name];
  if (code === UNKNOWN_STATEMENT) {
    named.off = true;
    named.names.clear();
  }
}
