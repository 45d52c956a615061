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

/** Attaches `code` (the code template's output, or why it failed) to each unrendered row. */
export async function renderCode(templates: Readonly<Record<string, AnyTemplate>>, rows: Row[]): Promise<void> {
  for (const row of rows) {
    if (row.rendered !== false) continue;
    const name = String(row.template);
    const t = Object.hasOwn(templates, name) ? templates[name] : undefined;
    // No `code`: the core says the template is missing from this worker.
    if (!t) continue;
    try {
      const props: unknown = typeof row.props === "string" ? JSON.parse(row.props) : {};
      row.code = await t.render(props as never);
    } catch (err) {
      row.code = { errorCode: codeOf(err), error: (err as Error)?.message ?? String(err) };
    }
  }
}

/**
 * The `renderFreeze` parameters of the hand-offs rendered just now (`fence`: their ids, lease
 * tokens and partition keys), or null when none was.
 */
export function freezeParams(handOffs: EmailHandOff[], fence: (hs: EmailHandOff[]) => unknown[][]): unknown[] | null {
  const hs = handOffs.filter((h) => h.freeze);
  if (hs.length === 0) return null;
  const f = (k: "subject" | "html" | "text" | "version") => hs.map((h) => h.freeze![k]);
  return [...fence(hs), f("subject"), f("html"), f("text"), f("version")];
}
