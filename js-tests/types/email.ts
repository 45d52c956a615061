// Email code templates, checked with the suite's strict flags: props flow from the definition
// into `render`, the `html` tag returns markup the template accepts, and transports match the
// Transport interface.
import { defineTemplate, html, type PropsOf, type Transport } from "@usebetterdev/email";
import { captureTransport } from "@usebetterdev/email/testing";
import { consoleTransport, fileTransport } from "@usebetterdev/email/dev";

type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const assertType = <T extends true>(value: T): T => value;

const welcome = defineTemplate<{ name: string; url: string }>({
  name: "welcome",
  subject: (p) => `Welcome, ${p.name}`,
  html: (p) => html`<a href="${p.url}">Start</a>`,
});
assertType<Equals<PropsOf<typeof welcome>, { name: string; url: string }>>(true);
void welcome.render({ name: "Ada", url: "https://app.test" });
// @ts-expect-error a missing prop
void welcome.render({ name: "Ada" });
// @ts-expect-error a prop of the wrong type
void welcome.render({ name: 1, url: "https://app.test" });
defineTemplate<{ n: number }>({
  name: "count",
  // @ts-expect-error a prop the template does not have
  subject: (p) => `${p.count}`,
  text: (p) => String(p.n),
});

const transports: Transport[] = [captureTransport(), consoleTransport(), fileTransport({ dir: "out" })];
void transports;
// @ts-expect-error fileTransport needs a directory
fileTransport({});
