// `@usebetterdev/email/testing`: `captureTransport()` keeps what it is given in memory, for
// tests of the application: `sent()`, `lastTo(address)`, `links(message)`, `waitFor(predicate)`,
// `clear()`, and `failNext(outcome)` to see how the app and the worker handle any hand-off
// outcome. `fakeResend()`, `fakePostmark()`, `fakeSes()`, `fakeSendgrid()` and `fakeMailgun()`
// are loopback stand-ins for those providers' APIs (Node only).
import { EmailError } from "../errors";
export { fakeResend, type FakeResend, type FakeResendEmail, type FakeResendOptions } from "./resend";
export { fakePostmark, type FakePostmark, type FakePostmarkEmail } from "./postmark";
export { fakeSes, type FakeSes, type FakeSesEmail, type FakeSesOptions } from "./ses";
export { fakeSendgrid, type FakeSendgrid, type FakeSendgridEmail } from "./sendgrid";
export { fakeMailgun, type FakeMailgun, type FakeMailgunEmail } from "./mailgun";
import type { HandOffOutcome, HandOffResult, PreparedMessage, Transport } from "../types";

export interface CapturedMessage extends PreparedMessage {
  /** When the transport received it (ms since the epoch). */
  capturedAt: number;
}

export interface CaptureTransport extends Transport {
  sent(): CapturedMessage[];
  lastTo(address: string): CapturedMessage | undefined;
  links(message: Pick<PreparedMessage, "html" | "text">): string[];
  waitFor(predicate: (m: CapturedMessage) => boolean, o?: { timeoutMs?: number }): Promise<CapturedMessage>;
  clear(): void;
  failNext(outcome: Exclude<HandOffOutcome, "sent">, o?: { status?: number; detail?: string; retryAfterMs?: number }): void;
}

const decode = (s: string) => s.replace(/&amp;/g, "&").replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, "<").replace(/&gt;/g, ">");

export function captureTransport(o: { name?: string } = {}): CaptureTransport {
  const messages: CapturedMessage[] = [];
  const failures: HandOffResult[] = [];
  const waiters = new Set<() => void>();
  return {
    name: o.name ?? "capture",
    kind: "capture",
    capabilities: { idempotency: true, batch: 100, rawMime: true, tags: true, edge: true },
    async send(batch: PreparedMessage[]): Promise<HandOffResult[]> {
      const out = batch.map((m): HandOffResult => {
        const failure = failures.shift();
        if (failure) return failure;
        // A retry of a message already captured is the same message: kept once (idempotent).
        if (!messages.some((x) => x.id === m.id)) messages.push({ ...m, capturedAt: Date.now() });
        return { outcome: "sent", providerMessageId: m.id };
      });
      for (const w of waiters) w();
      return out;
    },
    sent: () => [...messages],
    lastTo(address) {
      const key = address.toLowerCase();
      for (let i = messages.length - 1; i >= 0; i--) if (messages[i]!.recipients.some((r) => r.toLowerCase() === key)) return messages[i];
      return undefined;
    },
    links(message) {
      const fromHtml = [...(message.html ?? "").matchAll(/\shref\s*=\s*(?:"([^"]*)"|'([^']*)')/gi)].map((m) => decode(m[1] ?? m[2] ?? ""));
      const fromText = [...(message.text ?? "").matchAll(/https?:\/\/[^\s<>()"']+/g)].map((m) => m[0]);
      return [...new Set([...fromHtml, ...fromText])];
    },
    waitFor(predicate, w = {}) {
      const timeoutMs = w.timeoutMs ?? 5_000;
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = messages.find(predicate);
          if (!hit) return false;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(hit);
          return true;
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new EmailError("EMAIL_NOT_FOUND", `captureTransport.waitFor: no matching message within ${timeoutMs} ms (${messages.length} captured)`));
        }, timeoutMs);
        if (!check()) waiters.add(check);
      });
    },
    clear() {
      messages.length = 0;
      failures.length = 0;
    },
    failNext(outcome, f = {}) {
      failures.push({ outcome, ...f });
    },
  };
}
