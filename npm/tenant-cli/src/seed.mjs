import { runCli } from "./index.mjs";
import { native } from "./native.mjs";

/** Creates a tenant; resolves to `{ id, name, slug }`. */
export async function runSeed(databaseUrl, { name, slug } = {}) {
  const args = ["seed", "--json", "--database-url", databaseUrl, "--name", String(name ?? "")];
  if (slug !== undefined) args.push("--slug", slug);
  const { code, stdout, stderr } = await runCli(args, { config: null });
  if (code !== 0) throw new Error(stderr.trim());
  return JSON.parse(stdout);
}

export function slugFromName(name) {
  return native().slugFromName(name);
}
