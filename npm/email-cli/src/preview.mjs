// `better-email preview`: the `email` section's templates rendered with their sample props,
// served on 127.0.0.1 until stopped. With `--tenant`, a template the tenant has overridden
// (`email.templates.save`) is rendered from its stored override, as that tenant's sends are.
// The addon has already checked the options and the schema.
import { createServer } from "node:http";
import { untilStopped } from "@usebetter-rs/core/cli";
import { escapeHtml } from "@usebetterdev/email";
import { withEmail } from "./instance.mjs";

const page = (title, body) => `<!doctype html><meta charset="utf-8"><title>${escapeHtml(title)}</title>${body}`;

/** Answers one request: `/` lists the templates, `/t/<name>` is its html, `/t/<name>.txt` its text. */
async function answer(email, templates, tenant, url) {
  const locale = url.searchParams.get("locale") ?? undefined;
  const render = async (name) => {
    const t = templates[name];
    // `templates.preview` answers the code template for one that is not editable.
    if (tenant) return email.templates.preview(name, t.sample, { tenantId: tenant, ...(locale ? { locale } : {}) });
    return { source: "code", ...(await t.render(t.sample)) };
  };
  if (url.pathname === "/") {
    const rows = [];
    for (const [name, t] of Object.entries(templates)) {
      if (t.sample === undefined) {
        rows.push(`<li>${escapeHtml(name)}: no <code>sample</code> props to render with</li>`);
        continue;
      }
      const r = await render(name);
      const links = [r.html != null ? `<a href="/t/${encodeURIComponent(name)}">html</a>` : "", r.text != null ? `<a href="/t/${encodeURIComponent(name)}.txt">text</a>` : ""].filter(Boolean).join(" ");
      rows.push(`<li><b>${escapeHtml(name)}</b> (${r.source}): ${escapeHtml(r.subject)} ${links}</li>`);
    }
    return { status: 200, type: "text/html; charset=utf-8", body: page("better-email preview", `<h1>Templates${tenant ? ` of tenant ${escapeHtml(tenant)}` : ""}</h1><ul>${rows.join("")}</ul>`) };
  }
  const m = /^\/t\/([A-Za-z0-9_.-]+?)(\.txt)?$/.exec(url.pathname);
  const name = m?.[1];
  if (!name || !Object.hasOwn(templates, name)) return { status: 404, type: "text/plain; charset=utf-8", body: "no such template\n" };
  if (templates[name].sample === undefined) return { status: 404, type: "text/plain; charset=utf-8", body: `template ${name} has no sample props: add \`sample\` to its defineTemplate({...})\n` };
  const r = await render(name);
  const text = m[2] !== undefined;
  const body = text ? r.text : r.html;
  if (body == null) return { status: 404, type: "text/plain; charset=utf-8", body: `template ${name} has no ${text ? "text" : "html"} part\n` };
  return { status: 200, type: text ? "text/plain; charset=utf-8" : "text/html; charset=utf-8", body, subject: r.subject, source: r.source };
}

/** Serves until a signal; resolves to the exit code. */
export async function runPreview({ section, databaseUrl, options }, { signals = process, write = (line) => process.stderr.write(line) } = {}) {
  const json = options.json === true;
  const templates = section?.templates ?? {};
  return withEmail({ section, databaseUrl, max: 2 }, write, async (email) => {
    const server = createServer((req, res) => {
      // Only this host and port by name: a page elsewhere that rebinds its DNS to 127.0.0.1
      // cannot read the previews.
      const { port } = server.address();
      if (![`127.0.0.1:${port}`, `localhost:${port}`].includes(req.headers.host ?? "")) {
        res.writeHead(403, { "content-type": "text/plain; charset=utf-8" }).end("forbidden host\n");
        return;
      }
      answer(email, templates, options.tenant, new URL(req.url ?? "/", "http://127.0.0.1"))
        .then((a) => {
          // A tenant's markup is not ours: no script runs in the operator's browser.
          const headers = { "content-type": a.type, "cache-control": "no-store", "content-security-policy": "sandbox" };
          if (a.subject !== undefined) Object.assign(headers, { "x-email-subject": encodeURIComponent(a.subject), "x-email-source": a.source });
          res.writeHead(a.status, headers).end(a.body);
        })
        .catch((err) => res.writeHead(500, { "content-type": "text/plain; charset=utf-8" }).end(`${err?.code ?? "ERROR"}: ${err?.message ?? err}\n`));
    });
    await new Promise((resolve, reject) => server.once("error", reject).listen(options.port, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${server.address().port}/`;
    write(json ? `${JSON.stringify({ event: "serving", url, templates: Object.keys(templates).length })}\n` : `better-email preview: serving ${Object.keys(templates).length} templates at ${url}\n`);
    await untilStopped(signals, null);
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
}
