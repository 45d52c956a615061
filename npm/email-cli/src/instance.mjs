// What `worker` and `preview` share: the `email` section's betterEmail() on a node-postgres pool
// of its own, run until `fn` resolves; a failure is printed and exits 1, and the pool is closed
// either way.
import pg from "pg";
import { betterEmail } from "@usebetterdev/email";
import { sqlEmailAdapter } from "@usebetterdev/email/sql";

/**
 * Runs `fn(email)`; resolves to the exit code. `prepare`: the statements go as named prepared
 * statements, parsed and planned once per connection (`worker --prepare`).
 */
export async function withEmail({ section, databaseUrl, max, prepare = false }, write, fn) {
  const pool = new pg.Pool({ connectionString: databaseUrl, max });
  // An idle connection dropped by the server is replaced on next use.
  pool.on("error", () => {});
  try {
    await fn(betterEmail({ ...section, database: sqlEmailAdapter(pool, { prepare }) }));
    return 0;
  } catch (err) {
    write(`${err?.message ?? err}\n`);
    return 1;
  } finally {
    await pool.end();
  }
}
