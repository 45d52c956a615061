// The `html` tagged template of code templates: every interpolated value is HTML-escaped, values
// made by `html` (or `html.raw`) pass through as they are, arrays are joined, and a URL that
// would run script in an `href`/`src` attribute is refused (`EMAIL_TEMPLATE_RENDER_FAILED`)
// rather than escaped into a dead link.
import { EmailTemplateError } from "./errors";

const SAFE = Symbol.for("usebetter.email.html");

/** Markup that `html` passes through unescaped: the result of `html` or `html.raw`. */
export interface SafeHtml {
  readonly [SAFE]: true;
  readonly value: string;
  toString(): string;
}

const safe = (value: string): SafeHtml => ({ [SAFE]: true, value, toString: () => value });
const isSafe = (v: unknown): v is SafeHtml => typeof v === "object" && v !== null && (v as Partial<SafeHtml>)[SAFE] === true;

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
/** `&<>"'` as entities. */
export const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => ESCAPES[c]!);

// Attributes whose value is a URL, with the value quoted or not.
const URL_ATTRIBUTE = /[\s/](?:href|src|action|formaction|xlink:href|background|poster)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']*))/gi;
// Browsers drop ASCII whitespace and control characters inside a scheme (`java\tscript:`) and
// decode entities in attributes before they look at it.
const SCRIPT_SCHEME = /^(?:javascript|vbscript|data):/i;

function decodeEntities(s: string): string {
  return s
    .replace(/&#x([0-9a-f]+);?/gi, (_, h: string) => String.fromCodePoint(parseInt(h, 16) % 0x110000))
    .replace(/&#(\d+);?/g, (_, d: string) => String.fromCodePoint(Number(d) % 0x110000))
    .replace(/&(tab|newline|colon);/gi, (_, n: string) => ({ tab: "\t", newline: "\n", colon: ":" })[n.toLowerCase()] ?? "");
}

function checkUrl(value: string, attribute: string): void {
  const scheme = decodeEntities(value).replace(/[\u0000-\u0020\u007f-\u009f]/g, "");
  if (SCRIPT_SCHEME.test(scheme) && !/^data:image\/(?:png|gif|jpeg|webp);base64,/i.test(scheme)) {
    throw new EmailTemplateError("EMAIL_TEMPLATE_RENDER_FAILED", `html: ${attribute.slice(0, 80)} is a ${scheme.split(":")[0]!.toLowerCase()}: URL; links and sources may be http(s), mailto, tel, cid or relative URLs`);
  }
}

function piece(value: unknown): string {
  if (value === null || value === undefined || value === false) return "";
  if (Array.isArray(value)) return value.map(piece).join("");
  return isSafe(value) ? value.value : escapeHtml(String(value));
}

/** `html\`<a href="${url}">${name}</a>\``: escapes values, passes `html` fragments through. */
export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += piece(values[i]) + strings[i + 1]!;
  // Judged on the result, so a scheme split across values (or literal and value) is seen whole.
  // A script URL has no place in an email, so the template's own literals are held to it too.
  URL_ATTRIBUTE.lastIndex = 0;
  for (let m = URL_ATTRIBUTE.exec(out); m; m = URL_ATTRIBUTE.exec(out)) checkUrl(m[1] ?? m[2] ?? m[3] ?? "", m[0].trim());
  return safe(out);
}

/** Trusted markup, passed through unescaped (never user input). */
html.raw = (markup: string): SafeHtml => safe(String(markup));
