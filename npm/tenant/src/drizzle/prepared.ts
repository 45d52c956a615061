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
// or may not have kept its statement retires the name (see `failed`). A connection where the
// server no longer knows a name it answered for (26000: a pooler in transaction mode hands it
// to another server, or the app ran DEALLOCATE or DISCARD) prepares nothing more. A failed read
// runs again in the scope's transaction, unnamed (see lane.ts), so its caller gets the answer
// it would have had.

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

/**
 * `sent`: names of set-ups whose Parse this package wrote itself (node-postgres tracks only its
 * queries'); `confirmed`: names the server answered for.
 */
type Named = { names: Map<string, string>; count: number; off: boolean; sent: Set<string>; confirmed: Set<string> };
type Connection = { parsedStatements?: Record<string, unknown>; submittedNamedStatements?: Record<string, unknown> };

/** Per client (its connection lives as long as it does). */
const byClient = new WeakMap<object, Named>();

/** The name `text` runs under on `client`, or undefined when it runs unnamed. */
export function nameFor(client: object, text: string): string | undefined {
  let named = byClient.get(client);
  if (!named) byClient.set(client, (named = { names: new Map(), count: 0, off: false, sent: new Set(), confirmed: new Set() }));
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

/** A read alone answered on `client`: its statement and its set-up exist on the server. */
export function confirm(client: object, name: string | undefined, setup: Setup): void {
  const confirmed = byClient.get(client)?.confirmed;
  if (name !== undefined) confirmed?.add(name);
  if (setup.name !== undefined) confirmed?.add(setup.name);
}

/** What node-postgres' query tells of a read alone (alone.ts). */
type Sent = { parsedHere?: boolean; setupDone?: boolean } | undefined;

/**
 * A read alone under `name` and `setup` failed on `client` with `error`. A name is kept while
 * the server holds its statement and can run it again, and retired (never used again) when its
 * Parse may have failed, node-postgres closed it (a value it could not write: any error of the
 * client's own), or its plan went stale (0A000: its result type changed). The set-up exists once
 * answered; before that only a server error about the set-up itself can concern it. An unknown
 * name (26000) that the server had confirmed means the server lost it: the connection names
 * nothing more. One never confirmed was merely never created (a Parse sent ahead of it failed).
 */
export function failed(client: object, text: string, name: string | undefined, setup: Setup, sent: Sent, error: unknown): void {
  const named = byClient.get(client);
  if (!named) return;
  const code = (error as { code?: unknown } | null)?.code as string | undefined;
  const fromServer = typeof (error as { severity?: unknown } | null)?.severity === "string";
  const connection = (client as { connection?: Connection }).connection;
  // The set-up is bound first: while it is unanswered the unknown name is its own, after that the read's.
  const unknown = code === UNKNOWN_STATEMENT ? (sent?.setupDone === true ? name : setup.name) : undefined;
  if (unknown !== undefined && named.confirmed.has(unknown)) {
    named.off = true;
    named.names.clear();
    return;
  }
  if (setup.name !== undefined && fromServer && sent?.setupDone !== true && (setup.parse || STALE.has(code!))) {
    drop(named, connection, setup.text, setup.name);
  }
  if (name === undefined) return;
  // Parsed with this read: it exists if its ParseComplete came (node-postgres records it; a
  // set-up parsed in the same message would be recorded under the read's name too).
  const created = sent !== undefined && (!sent.parsedHere || (!setup.parse && connection?.parsedStatements?.[name] !== undefined));
  if (!fromServer || !created || STALE.has(code!)) drop(named, connection, text, name);
}

function drop(named: Named, connection: Connection | undefined, text: string, name: string): void {
  if (named.names.get(text) === name) named.names.delete(text);
  named.sent.delete(name);
  named.confirmed.delete(name);
  // node-postgres records a name as parsed at its submission; a later use must not skip Parse.
  if (connection?.parsedStatements) delete connection.parsedStatements[name];
  if (connection?.submittedNamedStatements) delete connection.submittedNamedStatements[name];
}
