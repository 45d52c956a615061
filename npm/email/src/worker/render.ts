// `render: "worker"` (and mail an edge send left for a Node worker): claimed rows stored
// unrendered get their code template's output here, from this worker's registry; the core
// picks a tenant's override over it and checks the content (`handOff`). What was rendered is
// stored before anything is sent, so that every later attempt sends the same bytes.
import type { EmailHandOff } from "@usebetter-rs/core/email-binding";
import type { Row } from "../db";
import type { AnyTemplate } from "../email";

const codeOf = (err: unknown): string => {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && code.startsWith("EMAIL_") ? code : "EMAIL_TEMPLATE_RENDER_FAILED";
};

const text = (v: unknown): v is string | undefined => v === undefined || typeof v === "string";

/** Attaches `code` (the code template's output, or why it failed) to each unrendered row. */
export async function renderCode(templates: Readonly<Record<string, AnyTemplate>>, rows: Row[]): Promise<void> {
  for (const row of rows) {
    if (row.rendered !== false) continue;
    const name = String(row.template);
    const t = Object.hasOwn(templates, name) ? templates[name] : undefined;
    // No `code`: the core says the template is missing from this worker.
    if (!t) continue;
    // Purged or erased since the send: rendering with nothing would send blanks.
    if (typeof row.props !== "string") {
      row.code = { errorCode: "EMAIL_TEMPLATE_RENDER_FAILED", error: `template "${name}": its props are gone (purged or erased), so it cannot be rendered` };
      continue;
    }
    try {
      const out = await t.render(JSON.parse(row.props) as never);
      const ok = typeof out === "object" && out !== null && typeof out.subject === "string" && text(out.html) && text(out.text);
      row.code = ok ? out : { errorCode: "EMAIL_TEMPLATE_RENDER_FAILED", error: `template "${name}" gave no string subject, html or text` };
    } catch (err) {
      row.code = { errorCode: codeOf(err), error: (err as Error)?.message ?? String(err) };
    }
  }
}

/**
 * The `renderFreeze` parameters when some of the claim's hand-offs were rendered just now:
 * their content, and for every one of them (`fence`: ids, lease tokens, partition keys) a new
 * lease of `leaseMs`, since rendering took from it. Null when none was rendered.
 */
export function freezeParams(handOffs: EmailHandOff[], fence: (hs: EmailHandOff[]) => unknown[][], leaseMs: number): unknown[] | null {
  if (!handOffs.some((h) => h.freeze)) return null;
  const f = (k: "subject" | "html" | "text" | "version") => handOffs.map((h) => h.freeze?.[k] ?? null);
  return [...fence(handOffs), f("subject"), f("html"), f("text"), f("version"), handOffs.map((h) => !!h.freeze), leaseMs];
}
