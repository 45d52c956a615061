// The changed fields of two row images held as JavaScript objects (captureLog's input). The rule
// is the core's (audit::diff: fields differ as their jsonb values do). Serialising whole images
// to hand them to the core cost more than the decision itself, so this module settles what
// needs no JSON rule and leaves the rest to the core:
// - two scalars (strings, booleans, finite numbers, null) are the same value exactly when they
//   are equal, and JSON adds nothing to that;
// - two plain arrays, or two plain objects with the same keys in the same order, are compared
//   part by part: one differing part makes them differ, all parts the same makes them the same
//   (with the same keys in the same order, matching by name and by position agree);
// - anything else (keys in another order or other keys, Dates, bigints, toJSON, NaN, values JSON
//   leaves out) is written as JSON text; equal texts are the same value, and only fields whose
//   texts differ go to the core, which decides them with the jsonb rule.
// js-tests/audit-diff-js.test.mjs holds this equal to the core's answer on random images.
import core from "@usebetter-rs/core";
import { jsonText } from "./json";

type Image = Record<string, unknown>;

const enumerable = Object.prototype.propertyIsEnumerable;
/** How deep the structural comparison goes before leaving a field to the core. */
const DEPTH = 16;

/** The kind of a value that is its own JSON text's meaning, or null for anything else. */
function scalar(v: unknown): "s" | "b" | "n" | "z" | null {
  switch (typeof v) {
    case "string":
      return "s";
    case "boolean":
      return "b";
    case "number":
      return Number.isFinite(v) ? "n" : null;
    case "object":
      return v === null ? "z" : null;
    default:
      return null;
  }
}

/** A value JSON writes as an object or array of its parts (no toJSON, no class of its own). */
function plain(v: object): "a" | "o" | null {
  if (typeof (v as { toJSON?: unknown }).toJSON === "function") return null;
  if (Array.isArray(v)) return "a";
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null ? "o" : null;
}

/** true: same value, false: different, undefined: not settled without the core. */
function same(x: unknown, y: unknown, depth: number): boolean | undefined {
  if (x === y) return true;
  const kx = scalar(x);
  const ky = scalar(y);
  if (kx !== null && ky !== null) return false;
  if (kx !== null || ky !== null || typeof x !== "object" || typeof y !== "object" || depth === 0) return undefined;
  const px = plain(x as object);
  if (px === null || px !== plain(y as object)) return undefined;
  let settled = true;
  if (px === "a") {
    const a = x as unknown[];
    const b = y as unknown[];
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) {
      const r = same(a[i], b[i], depth - 1);
      if (r === false) return false;
      if (r === undefined) settled = false;
    }
    return settled ? true : undefined;
  }
  const ka = Object.keys(x as object);
  const kb = Object.keys(y as object);
  if (ka.length !== kb.length) return undefined;
  for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return undefined;
  for (const k of ka) {
    const r = same((x as Image)[k], (y as Image)[k], depth - 1);
    if (r === false) return false;
    if (r === undefined) settled = false;
  }
  return settled ? true : undefined;
}

const dateToJSON = Date.prototype.toJSON;

/**
 * The field's JSON text, or undefined where JSON leaves the field out (undefined, functions).
 * A `toJSON` gets the field's name, as it does when the whole image is serialised.
 */
function fieldText(v: unknown, key: string, what: string): string | undefined {
  const toJSON = v !== null && typeof v === "object" ? (v as { toJSON?: unknown }).toJSON : undefined;
  if (typeof toJSON !== "function" || toJSON === dateToJSON) return jsonText(v, what) as string | undefined;
  const whole = jsonText({ [key]: v }, what);
  return whole === "{}" ? undefined : whole.slice(JSON.stringify(key).length + 2, -1);
}

/**
 * Names of the fields that changed, in `before`'s key order, then the keys only `after` has.
 * `keysB`/`keysA` are the images' `Object.keys`, which the caller has at hand.
 */
export function changedFields(before: Image, after: Image, keysB = Object.keys(before), keysA = Object.keys(after)): string[] {
  // An image that serialises itself is compared as what it serialises to.
  if (typeof before.toJSON === "function" || typeof after.toJSON === "function") return wholeImages(before, after);
  const order: string[] = [];
  // Keys of `before` whose values JSON leaves out (undefined, functions): missing there.
  let omitted: Set<string> | undefined;
  // Whether both images list the same keys in the same order (then no key is after's alone).
  let lockstep = keysA.length === keysB.length;
  let unsure: string[] | undefined;
  let bText = "";
  let aText = "";
  for (let i = 0; i < keysB.length; i++) {
    const k = keysB[i]!;
    const b = before[k];
    let a: unknown;
    if (lockstep && keysA[i] === k) a = after[k];
    else {
      lockstep = false;
      a = enumerable.call(after, k) ? after[k] : undefined;
    }
    const r = same(b, a, DEPTH);
    if (r === true) continue;
    if (r === false) {
      order.push(k);
      continue;
    }
    const tb = fieldText(b, k, "before");
    if (tb === undefined) {
      (omitted ??= new Set()).add(k);
      continue;
    }
    const ta = fieldText(a, k, "after");
    if (ta === undefined) {
      order.push(k); // gone after
    } else if (tb !== ta) {
      order.push(k);
      (unsure ??= []).push(k);
      const sep = bText ? "," : "";
      const name = JSON.stringify(k);
      bText += `${sep}${name}:${tb}`;
      aText += `${sep}${name}:${ta}`;
    }
  }
  if (!lockstep || omitted) {
    for (const k of keysA) {
      if (enumerable.call(before, k) && !omitted?.has(k)) continue;
      if (fieldText(after[k], k, "after") !== undefined) order.push(k);
    }
  }
  if (!unsure) return order;
  // The core names which of the unsure fields changed; the others are only spelled differently.
  const [changed] = JSON.parse(core.auditChangedFieldsJson(`[{"before":{${bText}},"after":{${aText}}}]`)) as string[][];
  const kept = new Set(changed);
  const dropped = new Set(unsure.filter((k) => !kept.has(k)));
  return dropped.size ? order.filter((k) => !dropped.has(k)) : order;
}

/** Images that define toJSON: compared whole, as the JSON they turn into. */
function wholeImages(before: Image, after: Image): string[] {
  const pair = `[{"before":${jsonText(before, "before")},"after":${jsonText(after, "after")}}]`;
  return (JSON.parse(core.auditChangedFieldsJson(pair)) as string[][])[0] ?? [];
}

/**
 * A shallow copy of an image, as `{ ...image }` makes it. Spreading is fastest for small
 * objects but slow for objects V8 keeps as hash tables (many properties added one by one, as
 * drivers build rows): 85 µs against 29 µs for 200 fields. Larger images are copied key by key.
 */
export function copyImage(image: Image, keys = Object.keys(image)): Image {
  if (keys.length <= 12) return { ...image };
  const copy: Image = {};
  // With frozen intrinsics (SES), assigning a field named like a prototype member throws.
  const frozen = Object.isFrozen(Object.prototype);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    // Assigning "__proto__" would set the prototype; spreading defines a field of that name.
    if (k === "__proto__" || (frozen && k in Object.prototype)) {
      Object.defineProperty(copy, k, { value: image[k], enumerable: true, writable: true, configurable: true });
    } else copy[k] = image[k];
  }
  for (const s of Object.getOwnPropertySymbols(image)) {
    if (enumerable.call(image, s)) (copy as Record<symbol, unknown>)[s] = (image as Record<symbol, unknown>)[s];
  }
  return copy;
}
