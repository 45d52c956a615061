// withAuditExtension: every audited Prisma mutation runs in an interactive transaction (the
// caller's, or one opened for it) in which the affected rows are locked and imaged before the
// mutation, imaged again after it from the database (column names, stored values), and the
// audit rows are written; rollback removes both, and a failed capture fails the mutation
// unless the caller chose otherwise with `onError`.
import { coded } from "../errors";
import { AsyncLocalStorage } from "node:async_hooks";
import { getAuditContext } from "../context";
import { withWriteHandle } from "../write-context";
import { INLINE_CAPTURE, type InlinePlanner } from "../inline";
import { images, keySelect, keyWhere, modelTable, readTableInfo, recordIdOf, type Image, type ImageKeys, type RawClient, type RuntimeDataModel, type TableInfo } from "./table";
import type { AuditOperation, CaptureLogInput } from "../types";

export type BulkMode = "per-row" | "bulk";

export interface WithAuditExtensionOptions {
  /** "bulk": one entry (record id "unknown", no images) per createMany/updateMany/deleteMany. */
  bulkMode?: BulkMode;
  /** Omitted: a failed capture fails the mutation. Given: called instead, the mutation stays. */
  onError?: (error: unknown) => void;
  /** Merged into every entry's metadata. */
  metadata?: Record<string, unknown>;
  /** Model name to the `tableName` recorded (default: the `@@map` name, else the model name). */
  tableNameTransform?: (modelName: string) => string;
  /** Tables (recorded names) whose before images are not read. */
  skipBeforeCapture?: string[];
  /** Row image field names: Prisma field names (default, as the app sees rows) or SQL column names. */
  imageKeys?: ImageKeys;
  /** Accepted for compatibility; every affected row is always recorded. */
  maxBeforeStateRows?: number;
}

export interface PrismaExtensionDefinition {
  query: { $allModels: { $allOperations: (params: OperationParams) => Promise<unknown> } };
}

export interface PrismaClientLike {
  $extends(extension: PrismaExtensionDefinition): unknown;
}

interface OperationParams {
  model?: string;
  operation: string;
  args: unknown;
  query: (args: unknown) => Promise<unknown>;
  __internalParams?: { transaction?: { kind?: string } };
}

type Args = Record<string, unknown> & { where?: unknown; select?: Record<string, unknown>; omit?: Record<string, unknown> };
type Row = Record<string, unknown>;
type Delegate = Record<string, (args: unknown) => Promise<unknown>>;
type Capture = (input: CaptureLogInput) => Promise<void>;

const OPERATIONS: Record<string, AuditOperation> = {
  create: "INSERT", createMany: "INSERT", createManyAndReturn: "INSERT",
  update: "UPDATE", updateMany: "UPDATE", updateManyAndReturn: "UPDATE", upsert: "UPDATE",
  delete: "DELETE", deleteMany: "DELETE",
};
const BULK = new Set(["createMany", "updateMany", "deleteMany"]);

const TX = Symbol.for("usebetterdev.audit.prismaTransaction");
const holder = globalThis as { [TX]?: AsyncLocalStorage<unknown> };
const txStore: AsyncLocalStorage<unknown> = (holder[TX] ??= new AsyncLocalStorage<unknown>());

const delegateKey = (model: string) => model.charAt(0).toLowerCase() + model.slice(1);

/** `args` with the key fields selected, and a function removing what the caller did not ask for. */
function withKey(args: Args, info: TableInfo): { args: Args; strip: <T>(r: T) => T } {
  const fields = info.key.map((k) => k.field);
  let added: string[] = [];
  let out = args;
  if (args.select) {
    added = fields.filter((f) => !args.select?.[f]);
    if (added.length) out = { ...args, select: { ...args.select, ...Object.fromEntries(added.map((f) => [f, true])) } };
  } else if (args.omit) {
    added = fields.filter((f) => args.omit?.[f]);
    if (added.length) out = { ...args, omit: Object.fromEntries(Object.entries(args.omit).filter(([f]) => !added.includes(f))) };
  }
  const trim = (r: unknown) => {
    if (r && typeof r === "object") for (const f of added) delete (r as Row)[f];
    return r;
  };
  return { args: out, strip: <T>(r: T) => (Array.isArray(r) ? (r.map(trim) as T) : (trim(r) as T)) };
}

export function withAuditExtension<T extends PrismaClientLike>(prisma: T, captureLog: Capture, options: WithAuditExtensionOptions = {}): T {
  if (!prisma || typeof prisma.$extends !== "function") throw coded(new TypeError("audit: withAuditExtension(prisma, captureLog) needs a Prisma client"), "INVALID_ARGUMENT");
  if (typeof captureLog !== "function") throw coded(new TypeError("audit: withAuditExtension needs captureLog, e.g. audit.captureLog"), "INVALID_ARGUMENT");
  const dataModel = (prisma as { _runtimeDataModel?: RuntimeDataModel })._runtimeDataModel;
  const planner = (captureLog as { [INLINE_CAPTURE]?: InlinePlanner })[INLINE_CAPTURE];
  const skipBefore = new Set(options.skipBeforeCapture ?? []);
  const tables = new Map<string, Promise<TableInfo>>();
  const tableName = (model: string) => options.tableNameTransform?.(model) ?? modelTable(dataModel, model);
  let audited: T;

  async function record(tx: unknown, inputs: CaptureLogInput[], table: string): Promise<void> {
    const extra = options.metadata;
    if (extra) for (const input of inputs) input.metadata = { ...getAuditContext()?.metadata, ...extra };
    try {
      await withWriteHandle(tx, async () => {
        for (const input of inputs) await captureLog(input);
      });
    } catch (err) {
      if (!options.onError) throw err;
      options.onError(err);
    }
  }

  /** One audited mutation inside the interactive transaction `tx`; `run` executes it there. */
  async function capture(tx: RawClient & Record<string, unknown>, p: OperationParams, op: AuditOperation, table: string): Promise<unknown> {
    const model = p.model as string;
    const args = (p.args ?? {}) as Args;
    const entry = (operation: AuditOperation, recordId: string, before?: Row, after?: Row): CaptureLogInput => {
      const input: CaptureLogInput = { tableName: table, operation, recordId };
      if (before) input.before = before;
      if (after) input.after = after;
      return input;
    };
    if (options.bulkMode === "bulk" && BULK.has(p.operation)) {
      const result = await p.query(args);
      await record(tx, [entry(op, "unknown")], table);
      return result;
    }
    if (p.operation === "createMany") {
      // Becomes createManyAndReturn of the keys, which this extension records as it runs.
      const delegate = tx[delegateKey(model)] as Delegate;
      const info = await infoOf(tx, model);
      const rows = (await delegate.createManyAndReturn!({ ...args, select: keySelect(info) })) as unknown[];
      return { count: rows.length };
    }
    const info = await infoOf(tx, model);
    const delegate = tx[delegateKey(model)] as Delegate;
    const readBefore = op !== "INSERT" && !skipBefore.has(table);
    const many = p.operation === "updateMany" || p.operation === "deleteMany" || p.operation === "updateManyAndReturn";
    let before: Image[] = [];
    let run = args;
    if (readBefore) {
      const keys = many
        ? ((await delegate.findMany!({ where: args.where, select: keySelect(info) })) as Row[])
        : [(await delegate.findUnique!({ where: args.where, select: keySelect(info) })) as Row | null].filter((r): r is Row => r !== null);
      before = await images(tx, info, keys, true);
      // Only the locked rows: a row committed meanwhile by someone else is not touched unseen.
      if (many) run = { ...args, where: { AND: [args.where ?? {}, keyWhere(info, keys)] } };
    } else if (many) {
      const result = await p.query(args);
      await record(tx, [entry(op, "unknown")], table);
      return result;
    }
    const { args: keyed, strip } = withKey(run, info);
    const result = await p.query(many && p.operation !== "updateManyAndReturn" ? run : keyed);
    const returned = (Array.isArray(result) ? result : many ? [] : [result]) as Row[];
    const inputs: CaptureLogInput[] = [];
    if (many) {
      const after = new Map((await images(tx, info, before.map((b) => keyFieldsOf(b.row, info)), false)).map((i) => [recordIdOf(i.row, info), i]));
      for (const b of before) {
        const id = recordIdOf(b.row, info);
        const a = after.get(id);
        if (op === "DELETE" && !a) inputs.push(entry("DELETE", id, b.row));
        else if (op === "UPDATE" && a && a.ctid !== b.ctid) inputs.push(entry("UPDATE", id, b.row, a.row));
        else if (op === "UPDATE" && !a) inputs.push(entry("UPDATE", id, b.row)); // its key was changed
      }
    } else if (op === "DELETE") {
      for (const b of before) inputs.push(entry("DELETE", recordIdOf(b.row, info), b.row));
      if (!before.length) inputs.push(entry("DELETE", recordIdOf(fieldsToImage(returned[0] ?? {}, info), info)));
    } else {
      for (const a of await images(tx, info, returned, false)) {
        const id = recordIdOf(a.row, info);
        const b = before.find((x) => recordIdOf(x.row, info) === id) ?? (returned.length === 1 ? before[0] : undefined);
        const operation = op === "UPDATE" && p.operation === "upsert" && !b ? "INSERT" : op;
        inputs.push(entry(operation, id, b?.row, a.row));
      }
    }
    await record(tx, inputs, table);
    return strip(result);
  }

  const infoOf = (tx: RawClient, model: string): Promise<TableInfo> => {
    let info = tables.get(model);
    if (!info) {
      info = readTableInfo(tx, dataModel, model, options.imageKeys ?? "field");
      tables.set(model, info);
      info.catch(() => tables.delete(model));
    }
    return info;
  };

  async function $allOperations(p: OperationParams): Promise<unknown> {
    const op = p.model ? OPERATIONS[p.operation] : undefined;
    if (!op || !p.model) return p.query(p.args);
    const table = tableName(p.model);
    if (planner?.(table, op).kind === "skip") return p.query(p.args);
    const kind = p.__internalParams?.transaction?.kind;
    if (kind === "batch") {
      throw coded(new Error(`audit: ${p.model}.${p.operation} on audited table "${table}" cannot be recorded inside $transaction([...]); use the interactive form $transaction(async (tx) => ...)`), "AUDIT_UNCAPTURED_WRITE");
    }
    const tx = txStore.getStore() as (RawClient & Record<string, unknown>) | undefined;
    if (kind === "itx") {
      if (!tx) throw coded(new Error(`audit: ${p.model}.${p.operation} runs in a transaction opened on a client other than the one withAuditExtension returned`), "AUDIT_UNCAPTURED_WRITE");
      return capture(tx, p, op, table);
    }
    // Outside a transaction: run the same call again inside one, where it is captured.
    const client = audited as unknown as { $transaction(fn: (tx: Record<string, unknown>) => Promise<unknown>): Promise<unknown> };
    return client.$transaction((t) => (t[delegateKey(p.model as string)] as Delegate)[p.operation]!(p.args));
  }

  audited = remember(prisma.$extends({ query: { $allModels: { $allOperations } } }) as T);
  return audited;
}

/** Key field values (Prisma names) of an image. */
function keyFieldsOf(row: Row, info: TableInfo): Row {
  return Object.fromEntries(info.key.map((k) => [k.field, row[k.image]]));
}

/** A Prisma row's key values under their image keys. */
function fieldsToImage(row: Row, info: TableInfo): Row {
  return Object.fromEntries(info.key.map((k) => [k.image, row[k.field]]));
}

/**
 * The extended client, whose interactive `$transaction` makes its `tx` known to the extension
 * (Prisma does not hand it to query extensions); clients derived with `$extends` keep that.
 */
function remember<T>(client: T): T {
  return new Proxy(client as object, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== "function") return value;
      if (prop === "$transaction") {
        // Awaited inside the store's scope: a Prisma promise only runs when awaited, and must
        // run where the transaction is known.
        return (arg: unknown, opts?: unknown) =>
          typeof arg === "function"
            ? (value as (f: unknown, o?: unknown) => Promise<unknown>).call(target, (tx: unknown) => txStore.run(tx, async () => await (arg as (t: unknown) => unknown)(tx)), opts)
            : (value as (a: unknown, o?: unknown) => Promise<unknown>).call(target, arg, opts);
      }
      if (prop === "$extends") return (...a: unknown[]) => remember((value as (...x: unknown[]) => unknown).apply(target, a));
      return (value as (...a: unknown[]) => unknown).bind(target);
    },
  }) as T;
}
