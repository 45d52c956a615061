// Streaming export (CSV, NDJSON, JSON array) by cursor pages: memory stays flat whatever the
// size, and a passed query is not capped at maxQueryLimit (the reference stopped there).
import { coded } from "./errors";
import { EXPLICIT_LIMIT, type AuditQueryBuilder } from "./query";
import type { AuditLog, AuditQuerySpec, QueryExecutor } from "./types";

export interface ExportOptions {
  format: "csv" | "json";
  query?: AuditQueryBuilder;
  output: WritableStream<string> | "string";
  batchSize?: number;
  csvDelimiter?: string;
  jsonStyle?: "ndjson" | "array";
}
export interface ExportResult {
  rowCount: number;
  data?: string;
}
export interface ExportResponseOptions {
  format?: "csv" | "json";
  jsonStyle?: "ndjson" | "array";
  batchSize?: number;
  csvDelimiter?: string;
  query?: AuditQueryBuilder;
  filename?: string;
}

const COLUMNS = [
  "id", "timestamp", "tableName", "operation", "recordId", "actorId", "beforeData", "afterData", "diff",
  "label", "description", "severity", "compliance", "notify", "reason", "metadata", "redactedFields",
] as const;

function csvCell(value: unknown, delimiter: string): string {
  if (value === undefined || value === null) return "";
  const text = value instanceof Date ? value.toISOString() : typeof value === "object" ? JSON.stringify(value) : String(value);
  return text.includes('"') || text.includes(delimiter) || text.includes("\n") || text.includes("\r") ? `"${text.replace(/"/g, '""')}"` : text;
}

/** Yields the text chunks of an export, one page at a time. */
async function* chunks(executor: QueryExecutor, opts: Omit<ExportOptions, "output">): AsyncGenerator<string, number> {
  const batchSize = opts.batchSize ?? 500;
  if (!(batchSize > 0)) throw coded(new Error(`batchSize must be greater than 0, got ${batchSize}`), "INVALID_ARGUMENT");
  const delimiter = opts.csvDelimiter ?? ",";
  if (delimiter.length !== 1) throw coded(new Error("csvDelimiter must be exactly one character"), "INVALID_ARGUMENT");
  const style = opts.format === "json" ? (opts.jsonStyle ?? "ndjson") : "csv";
  const base: AuditQuerySpec = opts.query ? opts.query.toSpec() : { filters: {} };
  // No cap unless the caller set one with `.limit()`.
  const cap = opts.query?.[EXPLICIT_LIMIT]() ?? Infinity;
  let rows = 0;
  let cursor: string | undefined = base.cursor;
  if (style === "csv") yield `${COLUMNS.join(delimiter)}\n`;
  if (style === "array") yield "[";
  while (rows < cap) {
    const spec: AuditQuerySpec = { ...base, limit: Math.min(batchSize, cap - rows) };
    if (cursor !== undefined) spec.cursor = cursor;
    const page = await executor(spec);
    for (const e of page.entries) {
      if (style === "csv") yield `${COLUMNS.map((c) => csvCell((e as AuditLog)[c], delimiter)).join(delimiter)}\n`;
      else if (style === "ndjson") yield `${JSON.stringify(e)}\n`;
      // The bytes of the reference's JSON.stringify(entries, null, 2), one entry at a time.
      else yield `${rows ? "," : ""}\n  ${JSON.stringify(e, null, 2).replace(/\n/g, "\n  ")}`;
      rows++;
    }
    if (!page.nextCursor || !page.entries.length) break;
    cursor = page.nextCursor;
  }
  if (style === "array") yield rows ? "\n]\n" : "]\n";
  return rows;
}

async function drain(gen: AsyncGenerator<string, number>, write: (s: string) => Promise<void> | void): Promise<number> {
  for (;;) {
    const r = await gen.next();
    if (r.done) return r.value;
    await write(r.value);
  }
}

export async function exportLogs(executor: QueryExecutor, options: ExportOptions, _maxLimit: number): Promise<ExportResult> {
  const gen = chunks(executor, options);
  if (options.output === "string") {
    const parts: string[] = [];
    const rowCount = await drain(gen, (s) => void parts.push(s));
    return { rowCount, data: parts.join("") };
  }
  const writer = options.output.getWriter();
  try {
    const rowCount = await drain(gen, (s) => writer.write(s));
    await writer.close();
    return { rowCount };
  } catch (err) {
    await writer.abort(err).catch(() => {});
    throw err;
  }
}

function stem(name: string | undefined): string {
  const today = new Date();
  const local = `${today.getFullYear()}-${String(today.getMonth() + 1).padStart(2, "0")}-${String(today.getDate()).padStart(2, "0")}`;
  // Quotes, backslashes and control characters would break the Content-Disposition header.
  return (name ?? `audit-export-${local}`).replace(/["\\\u0000-\u001f\u007f]/g, "");
}

/** A `Response` that streams the export as it is read. */
export function createExportResponse(executor: QueryExecutor, options: ExportResponseOptions = {}): Response {
  const format = options.format ?? "csv";
  const style = format === "json" ? (options.jsonStyle ?? "ndjson") : "csv";
  const gen = chunks(executor, { ...options, format });
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const r = await gen.next();
        if (r.done) controller.close();
        else controller.enqueue(encoder.encode(r.value));
      } catch (err) {
        controller.error(err);
      }
    },
  });
  const type = style === "csv" ? "text/csv" : style === "ndjson" ? "application/x-ndjson" : "application/json";
  const ext = style === "csv" ? ".csv" : style === "ndjson" ? ".ndjson" : ".json";
  return new Response(body, {
    status: 200,
    headers: {
      "Content-Type": `${type}; charset=utf-8`,
      "Content-Disposition": `attachment; filename="${stem(options.filename)}${ext}"`,
      "Cache-Control": "no-cache",
    },
  });
}
