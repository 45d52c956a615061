// The transaction audit rows must be written on: the capturing proxy or extension sets it
// around capture, and the storage adapter uses it, so mutation and audit row commit or roll
// back together. The handle is the ORM's transaction object (Drizzle or Prisma).
import { AsyncLocalStorage } from "node:async_hooks";

const STORE = Symbol.for("usebetterdev.audit.write");
const holder = globalThis as { [STORE]?: AsyncLocalStorage<unknown> };
const store: AsyncLocalStorage<unknown> = (holder[STORE] ??= new AsyncLocalStorage<unknown>());

export const currentWriteHandle = (): unknown => store.getStore();
export const withWriteHandle = <T>(handle: unknown, fn: () => Promise<T>): Promise<T> => store.run(handle, fn);
