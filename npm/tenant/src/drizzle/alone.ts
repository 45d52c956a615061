// A read alone on node-postgres: the statement with its set-up written ahead of it, so both run
// in one implicit transaction that the statement's own Sync ends (see lane.ts).
/** What a read alone needs of node-postgres' own Query class (`Client.Query`). */
interface PgConnection {
  stream: { destroy(error?: Error): void };
  parse(message: { text: string; name?: string; types?: unknown[] }): void;
  bind(message: { statement?: string; values: readonly unknown[] }): void;
  execute(message: { portal: string; rows: number }): void;
}
interface PgQuery {
  queryMode?: string;
  query_timeout?: unknown;
  name?: string;
  /** A read alone: whether its statement's Parse was written with it (see prepared.ts). */
  parsedHere?: boolean;
  /** A read alone: whether its set-up was answered. */
  setupDone?: boolean;
  hasBeenParsed(connection: PgConnection): boolean;
  prepare(connection: PgConnection): void;
  handleDataRow(message: unknown): void;
  handleCommandComplete(message: unknown, connection: PgConnection): void;
}
export type Callback = (err: unknown, result: unknown) => void;
export type PgQueryClass = new (config: unknown, values: unknown, callback: Callback) => PgQuery;
/**
 * A read's set-up: its text and values; `name`, when it is prepared on the connection, and
 * `parse`, whether its Parse goes out with this read (the first use of the name).
 */
export interface Setup {
  readonly text: string;
  readonly values: readonly string[];
  readonly name: string | undefined;
  readonly parse: boolean;
}
type ReadAloneClass = new (setup: Setup, config: unknown, values: unknown, callback: Callback, name?: string) => PgQuery;

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
      setupDone = false;
      parsedHere = false;
      constructor(
        private readonly setup: Setup,
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
        const { text, values, name, parse } = this.setup;
        if (parse) connection.parse({ text, name: name ?? "", types: [] });
        connection.bind({ statement: name ?? "", values });
        connection.execute({ portal: "", rows: 0 });
        this.parsedHere = !this.hasBeenParsed(connection);
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
        if (this.setupDone) super.handleDataRow(message);
      }
      override handleCommandComplete(message: unknown, connection: PgConnection) {
        if (this.setupDone) super.handleCommandComplete(message, connection);
        else this.setupDone = true;
      }
    };
    readAloneClasses.set(Base, made);
  }
  return made;
}
