// `@usebetterdev/email/dev`: transports for development. `consoleTransport()` prints a line per
// message and its text; `fileTransport({ dir })` writes each message's exact MIME as `{id}.eml`
// (any mail client opens it) and appends a line to `index.jsonl`.
import { appendFile, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { EmailConfigError } from "../errors";
import type { HandOffResult, PreparedMessage, Transport } from "../types";

const capabilities = { idempotency: true, batch: 100, rawMime: true, tags: true, edge: false };

/** Prints `to`, subject, category and id, then the text body, to `write` (default: stdout). */
export function consoleTransport(o: { name?: string; write?: (text: string) => void } = {}): Transport {
  const write = o.write ?? ((text: string) => void process.stdout.write(text));
  return {
    name: o.name ?? "console",
    kind: "console",
    capabilities: { ...capabilities, edge: true },
    async send(batch: PreparedMessage[]): Promise<HandOffResult[]> {
      return batch.map((m) => {
        write(`email ${m.id} [${m.category}] to ${m.recipients.join(", ")}: ${m.subject}\n${m.text ? `${m.text.replace(/\n?$/, "\n")}` : ""}`);
        return { outcome: "sent", providerMessageId: m.id };
      });
    },
  };
}

/** Writes `{dir}/{id}.eml` and appends `{ id, to, subject, category, file }` to `{dir}/index.jsonl`. */
export function fileTransport(o: { dir: string; name?: string }): Transport {
  if (typeof o?.dir !== "string" || o.dir === "") throw new EmailConfigError("EMAIL_INVALID_CONFIG", "fileTransport: invalid `dir`: expected a directory path");
  let ready: Promise<unknown> | undefined;
  return {
    name: o.name ?? "file",
    kind: "file",
    capabilities,
    async send(batch: PreparedMessage[]): Promise<HandOffResult[]> {
      ready ??= mkdir(o.dir, { recursive: true });
      await ready;
      const out: HandOffResult[] = [];
      for (const m of batch) {
        const file = `${m.id}.eml`;
        // The same id again (a retry) overwrites: one file per message.
        await writeFile(join(o.dir, file), m.raw);
        await appendFile(join(o.dir, "index.jsonl"), `${JSON.stringify({ id: m.id, to: m.recipients, subject: m.subject, category: m.category, file })}\n`);
        out.push({ outcome: "sent", providerMessageId: m.id });
      }
      return out;
    },
  };
}
