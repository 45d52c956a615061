// The transaction audit rows must be written on: the proxy sets it around capture, and the
// storage adapter uses it, so mutation and audit row commit or roll back together.
import { AsyncLocalStorage } from "node:async_hooks";

export interface WriteHandle {
  execute(query: unknown): Promise<unknown>;
}

const STORE = Symbol.for("usebetterdev.audit.write");
const holder = globalThis as { [STORE]?: AsyncLocalStorage<WriteHandle> };
const store: AsyncLocalStorage<WriteHandle> = (holder[STORE] ??= new AsyncLocalStorage<WriteHandle>());

export const currentWriteHandle = (): WriteHandle | undefined => store.getStore();
export const withWriteHandle = <T>(handle: WriteHandle, fn: () => Promise<T>): Promise<T> => store.run(handle, fn);
