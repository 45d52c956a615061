// The in-process worker: keeps up to `concurrency` requests in flight, claims more as slots
// free up, and records results in batches (at most 100 per transaction, or every few
// milliseconds), so no database work waits for a request and no request waits for a batch.
// Shutdown stops claiming, lets requests finish for `shutdownTimeoutMs`, then aborts the rest
// (recorded as `worker_shutdown`, retried on schedule) and removes the heartbeat.
import type { Claimed, Engine, Observation } from "./worker";

export interface LoopOptions {
  concurrency?: number;
  pollIntervalMs?: number;
  shutdownTimeoutMs?: number;
}

export interface Worker {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Wakes the loop (a send in this process). */
  wake(): void;
}

const RECORD_BATCH = 100;
const RECHECKS = 7;
const RECORD_DELAY_MS = 5;

export function runWorker(engine: Engine, o: LoopOptions): Worker {
  const concurrency = Math.max(1, o.concurrency ?? 64);
  const poll = o.pollIntervalMs ?? 250;
  const shutdownMs = o.shutdownTimeoutMs ?? 20_000;
  const stopRequests = new AbortController();
  let running = false;
  let inFlight = 0;
  let loop: Promise<void> = Promise.resolve();
  let wakeUp: (() => void) | undefined;
  let sleeping: ReturnType<typeof setTimeout> | undefined;
  const done: Array<[Claimed, Observation]> = [];
  let flushing: Promise<void> = Promise.resolve();
  let flushTimer: ReturnType<typeof setTimeout> | undefined;

  const report = (err: unknown) => console.error("better-webhooks worker:", err);
  // A wake-up that arrives while the loop is busy is kept for its next sleep.
  let woken = false;
  // A send in this process happened since the last fan-out.
  let fresh = true;
  // The wake-up comes from `send()`, before the sender's COMMIT: a fan-out that finds nothing
  // right after it looks again 5, 10, 20, … 320 ms later (0.6 s in all), not a poll interval later.
  let recheck = RECHECKS;
  const wake = () => {
    if (!wakeUp) {
      woken = true;
      return;
    }
    if (sleeping) clearTimeout(sleeping);
    sleeping = undefined;
    const w = wakeUp;
    wakeUp = undefined;
    w();
  };
  const sleep = (ms: number) =>
    new Promise<void>((r) => {
      if (woken) {
        woken = false;
        return r();
      }
      wakeUp = r;
      sleeping = setTimeout(wake, ms);
    });

  function flush(): Promise<void> {
    if (flushTimer) clearTimeout(flushTimer);
    flushTimer = undefined;
    flushing = flushing.then(async () => {
      while (done.length) {
        const batch = done.splice(0, RECORD_BATCH);
        await engine.record(batch).catch(report);
      }
    });
    return flushing;
  }

  function finished(row: Claimed, seen: Observation): void {
    inFlight--;
    done.push([row, seen]);
    if (done.length >= RECORD_BATCH) void flush();
    else flushTimer ??= setTimeout(() => void flush(), RECORD_DELAY_MS);
    wake();
  }

  async function run(): Promise<void> {
    let beat = 0;
    while (running) {
      if (Date.now() - beat > 5_000) {
        beat = Date.now();
        await engine.heartbeat(inFlight).catch(report);
      }
      const sent = fresh;
      fresh = false;
      await engine.prepare(sent).catch(report);
      const free = concurrency - inFlight;
      const rows = free > 0 ? await engine.claim(Math.min(engine.batch, free)).catch((e: unknown) => (report(e), [] as Claimed[])) : [];
      if (!running && rows.length) {
        await engine.release(rows).catch(report);
        break;
      }
      inFlight += rows.length;
      engine.send(rows, stopRequests.signal).forEach((p, i) => void p.then((seen) => finished(rows[i]!, seen)));
      // Claim again at once while claims come back full and slots are free; else wait for a
      // slot, a send in this process, or the poll interval.
      if (rows.length === 0 && recheck < RECHECKS) {
        fresh = true;
        await sleep(Math.min(poll, 5 * 2 ** recheck++));
      } else if (rows.length === 0 || inFlight >= concurrency) await sleep(rows.length === 0 ? poll : poll * 4);
    }
  }

  return {
    wake() {
      fresh = true;
      recheck = 0;
      wake();
    },
    async start() {
      if (running) return;
      running = true;
      loop = run();
    },
    async stop() {
      if (!running) return;
      running = false;
      wake();
      await loop;
      const deadline = Date.now() + shutdownMs;
      while (inFlight > 0 && Date.now() < deadline) await sleep(Math.min(50, deadline - Date.now()));
      if (inFlight > 0) {
        stopRequests.abort();
        while (inFlight > 0) await sleep(10);
      }
      await flush();
      await engine.stop().catch(report);
    },
  };
}
