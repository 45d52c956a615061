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

// betterEmail(): the registry's names and props flow into send().
import { betterEmail } from "@usebetterdev/email";
import { sqlEmailAdapter } from "@usebetterdev/email/sql";
import { smtp } from "@usebetterdev/email/smtp";
import { resend } from "@usebetterdev/email/resend";
import { ses, type SesCredentials } from "@usebetterdev/email/ses";
import { sendgrid } from "@usebetterdev/email/sendgrid";
import { mailgun } from "@usebetterdev/email/mailgun";
import pg from "pg";

const email = betterEmail({
  database: sqlEmailAdapter(new pg.Pool()),
  transport: smtp({ host: "127.0.0.1", port: 25, secure: "none" }),
  from: "Acme <hello@acme.example>",
  templates: { welcome },
});
void betterEmail({ database: sqlEmailAdapter(new pg.Pool()), from: "a@b.example", templates: { welcome }, render: "worker" });
// @ts-expect-error `render` is "enqueue" or "worker"
void betterEmail({ database: sqlEmailAdapter(new pg.Pool()), from: "a@b.example", templates: { welcome }, render: "later" });
// Senders: a node:dns Resolver is a resolver; the fallback is "app" only; a sender's report is typed.
import { Resolver } from "node:dns/promises";
void betterEmail({ database: sqlEmailAdapter(new pg.Pool()), from: "a@b.example", senders: { fallback: "app", resolver: new Resolver() } });
// @ts-expect-error `senders.fallback` is "app"
void betterEmail({ database: sqlEmailAdapter(new pg.Pool()), from: "a@b.example", senders: { fallback: "tenant" } });
void email.senders.verify("id").then((s) => s.dns?.checks.map((c): "pass" | "fail" | "error" => c.status));
// @ts-expect-error a sender needs an object
void email.senders.create("acme.example");
void email.send({ template: "welcome", to: "a@b.example", props: { name: "Ada", url: "https://app.test" } });
void email.send({ to: ["a@b.example", { address: "c@d.example", name: "C" }], subject: "Hi", text: "plain", category: "notifications", sendAt: new Date() });
// @ts-expect-error an unknown template name
void email.send({ template: "welcom", to: "a@b.example", props: { name: "Ada", url: "https://app.test" } });
// @ts-expect-error the template's props are required
void email.send({ template: "welcome", to: "a@b.example" });
// @ts-expect-error a prop of the wrong type
void email.send({ template: "welcome", to: "a@b.example", props: { name: 1, url: "https://app.test" } });
// @ts-expect-error a template and a subject at once
void email.send({ template: "welcome", to: "a@b.example", props: { name: "Ada", url: "https://app.test" }, subject: "Hi" });
// @ts-expect-error no recipient
void email.send({ subject: "Hi", text: "plain" });
const sent: Promise<{ id: `eml_${string}`; status: "queued" | "duplicate" | "suppressed" }> = email.send({ to: "a@b.example", subject: "Hi", html: "<p>Hi</p>" });
void sent;
// @ts-expect-error resend() needs an API key
resend({});
const fromVault = async (): Promise<SesCredentials> => ({ accessKeyId: "AKID", secretAccessKey: "s", sessionToken: "t" });
const raw: Transport[] = [
  ses({ region: "eu-west-1", credentials: { accessKeyId: "AKID", secretAccessKey: "s" }, configurationSetName: "tx" }),
  ses({ region: "eu-west-1", credentials: fromVault }),
  sendgrid({ apiKey: "SG.x" }),
  mailgun({ apiKey: "k", domain: "mg.acme.example", baseUrl: "https://api.eu.mailgun.net" }),
];
void raw;
// @ts-expect-error ses() needs credentials
ses({ region: "eu-west-1" });
// @ts-expect-error the credentials need a secret
ses({ region: "eu-west-1", credentials: { accessKeyId: "AKID" } });
// @ts-expect-error mailgun() needs the sending domain
mailgun({ apiKey: "k" });
