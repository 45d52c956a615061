// The worker's loop: claims while hand-off slots are free, sleeps `pollIntervalMs` when nothing
// is due (a send in this process wakes it), and reaps every few seconds.
import type { Engine, Slots, WorkerOptions } from "./index";

export interface Worker {
  start(): Promise<void>;
  /** Stops claiming and waits for the rounds in progress to be recorded. */
  stop(): Promise<void>;
  /** Claims at once (a send in this process). */
  wake(): void;
}

const REAP_EVERY_MS = 5_000;

export function runWorker(engine: Engine, o: WorkerOptions = {}): Worker {
  const poll = o.pollIntervalMs ?? 250;
  const concurrency = o.concurrency ?? 16;
  // A claim waits for at least this many free hand-off slots (requests in flight): fewer,
  // larger claims. A quarter: with half, the slots answered first of a round waited idle for
  // the others (resend({ batch: 1 }) at 16: 431 -> 470 messages/s, median of three).
  const least = Math.max(1, Math.ceil(concurrency / 4));
  let running = false;
  let loop: Promise<void> = Promise.resolve();
  let wakeUp: (() => void) | undefined;
  let woken = false;
  let lastReap = 0;
  const report = (err: unknown) => console.error("better-email worker:", err);
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      if (woken) {
        woken = false;
        return resolve();
      }
      const t = setTimeout(() => {
        wakeUp = undefined;
        resolve();
      }, ms);
      wakeUp = () => {
        clearTimeout(t);
        wakeUp = undefined;
        resolve();
      };
    });
  return {
    async start() {
      if (running) return;
      running = true;
      loop = (async () => {
        // Rounds overlap: the next claim goes out as soon as enough earlier requests have been
        // answered and recorded, while others are still with their transport, so claims and
        // records do not stall the hand-offs, and one slow message holds only its own slot.
        // busy: slots taken (a request out, or its answers being recorded); answered: of
        // those, the ones whose answers are back, which the next claim may count on; waiting:
        // requests claimed ahead, waiting for those slots unsent.
        let busy = 0;
        let answered = 0;
        const waiting: Array<() => void> = [];
        let changed: (() => void) | undefined;
        const poke = () => {
          changed?.();
          changed = undefined;
        };
        const slots: Slots = {
          take: () => {
            if (busy < concurrency && waiting.length === 0) {
              busy++;
              return Promise.resolve();
            }
            return new Promise<void>((resolve) => waiting.push(() => (busy++, resolve())));
          },
          arrived: () => {
            answered++;
            poke();
          },
          release: () => {
            busy--;
            answered--;
            waiting.shift()?.();
            poke();
          },
        };
        const recording = new Set<Promise<void>>();
        while (running) {
          if (Date.now() - lastReap > REAP_EVERY_MS) {
            lastReap = Date.now();
            await engine.reap().catch(report);
          }
          // Slots whose answers are being recorded count: the claim overlaps the record, and
          // its requests leave as the record frees their slots.
          const free = concurrency - busy + answered - waiting.length;
          if (free < least) {
            await new Promise<void>((resolve) => (changed = resolve));
            continue;
          }
          const r = await engine.begin(free, slots).catch((err) => (report(err), null));
          if (r) {
            // A round's answers, and the held mail it moves, even when nothing went out (every
            // request sent back to a paused transport).
            const d: Promise<void> = r.done.catch(report).then(() => void recording.delete(d));
            recording.add(d);
          }
          if (r && r.claimed > 0) continue;
          // Mail held back by the transport's rate is claimed the moment its grant comes.
          if (running) await sleep(engine.waitMs() ?? poll);
        }
        await Promise.all(recording);
      })();
    },
    async stop() {
      running = false;
      wakeUp?.();
      await loop;
    },
    wake() {
      if (wakeUp) wakeUp();
      else woken = true;
    },
  };
}
