// A read alone on node-postgres: the statement with its set-up written ahead of it, so both run
// in one implicit transaction that the statement's own Sync ends (see lane.ts).
/** What a read alone needs of node-postgres' own Query class (`Client.Query`). */
interface PgConnection {
  stream: { destroy(error?: Error): void };
  parse(message: { text: string; types?: unknown[] }): void;
  bind(message: { values: unknown[] }): void;
  execute(message: { portal: string; rows: number }): void;
}
interface PgQuery {
  queryMode?: string;
  query_timeout?: unknown;
  name?: string;
  prepare(connection: PgConnection): void;
  handleDataRow(message: unknown): void;
  handleCommandComplete(message: unknown, connection: PgConnection): void;
}
export type Callback = (err: unknown, result: unknown) => void;
export type PgQueryClass = new (config: unknown, values: unknown, callback: Callback) => PgQuery;
type ReadAloneClass = new (setup: string, config: unknown, values: unknown, callback: Callback, name?: string) => PgQuery;

/**
 * node-postgres' Query with the read's set-up written ahead of it (Parse, Bind, Execute, no
 * Sync), so both run in one implicit transaction that the statement's own Sync ends. The set-up's
 * row and completion are not the statement's: they are passed over. Subclassing keeps every
 * other part of the query (its result, types, row mode, errors) node-postgres' own, and a
 * pipelining client accepts only its own Query class.
 */
const readAloneClasses = new WeakMap<PgQueryClass, ReadAloneClass>();
export function readAloneClass(Base: PgQueryClass): ReadAloneClass {
  let made = readAloneClasses.get(Base);
  if (!made) {
    made = class ReadAlone extends Base {
      private setupAnswered = false;
      constructor(
        private readonly setup: string,
        config: unknown,
        values: unknown,
        callback: Callback,
        name?: string,
      ) {
        super(config, values, callback);
        // Prepared under this name (prepared.ts): parsed on first use, then only bound.
        if (name !== undefined) this.name = name;
        // Also a statement without parameters: the simple protocol would carry its own Sync.
        this.queryMode = "extended";
        // node-postgres reads a per-query timeout from what it was handed: this query.
        this.query_timeout = (config as { query_timeout?: unknown } | null)?.query_timeout;
      }
      override prepare(connection: PgConnection) {
        connection.parse({ text: this.setup, types: [] });
        connection.bind({ values: [] });
        connection.execute({ portal: "", rows: 0 });
        try {
          super.prepare(connection);
        } catch (error) {
          // Only a failure node-postgres does not handle itself gets here (it closes and syncs
          // after a value it cannot write): the set-up is out without its statement and Sync, and
          // no later Sync may end up carrying it. The connection cannot be trusted: end it.
          connection.stream.destroy(error as Error);
          throw error;
        }
      }
      override handleDataRow(message: unknown) {
        if (this.setupAnswered) super.handleDataRow(message);
      }
      override handleCommandComplete(message: unknown, connection: PgConnection) {
        if (this.setupAnswered) super.handleCommandComplete(message, connection);
        else this.setupAnswered = true;
      }
    };
    readAloneClasses.set(Base, made);
  }
  return made;
}
