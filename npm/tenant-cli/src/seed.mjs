import { runCli } from "./index.mjs";
import { native } from "./native.mjs";

/** Creates a tenant; resolves to `{ id, name, slug }`. */
export async function runSeed(databaseUrl, { name, slug } = {}) {
  const args = ["seed", "--json", "--database-url", databaseUrl, "--name", String(name ?? "")];
  if (slug !== undefined) args.push("--slug", slug);
  const { code, stdout, stderr, errorCode } = await runCli(args, { config: null });
  if (code !== 0) throw Object.assign(new Error(stderr.trim()), { code: errorCode ?? "INTERNAL" });
  return JSON.parse(stdout);
}

export function slugFromName(name) {
  return native().slugFromName(name);
}
