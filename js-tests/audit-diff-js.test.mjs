// captureLog's changed fields for row images given as JavaScript objects (npm/audit/src/diff.ts):
// scalars and same-shaped structures are compared in JavaScript, the rest goes to the core. On
// random images holding every kind of value a row can hold in JavaScript (and some it should
// not), the fields must be exactly the core's answer for the two images as JSON text, and the
// stored images copies equal to the input.
// AUDIT_DIFF_SEED=<n> runs one other seed.
import { test } from "node:test";
import assert from "node:assert/strict";
import core from "@usebetter-rs/core";
import { betterAudit } from "@usebetterdev/audit";
import { generator } from "./helpers/seeded.mjs";

class Money {
  constructor(cents) {
    this.cents = cents;
  }
  toJSON() {
    return `${this.cents / 100}`;
  }
}

const KEYS = ["id", "name", "a", "b", "x y", "é", "0", "10", "__proto__", "k\"q", "nested", "list", "when", "n"];
const SCALARS = [0, -0, 1, 1.5, -2, 1e21, 2 ** 53, NaN, Infinity, -Infinity, "", "a", "1", "0", "null", "é😀", true, false, null];
/** A value whose JSON is the name of the field holding it. */
const keyed = { toJSON: (key) => key };
const ODD = [undefined, () => 1, Symbol("s"), 10n, 2n ** 70n, keyed];

function value(g, depth) {
  const kind = g.int(depth > 2 ? 3 : 8);
  if (kind <= 1) return g.pick(SCALARS);
  if (kind === 2) return g.chance(0.5) ? g.pick(ODD) : new Date(Date.UTC(2026, 0, 1 + g.int(3)));
  if (kind === 3) return new Money(g.int(3) * 50);
  if (kind === 4) {
    const arr = Array.from({ length: g.int(4) }, () => value(g, depth + 1));
    if (arr.length && g.chance(0.1)) delete arr[0]; // a hole: JSON writes null
    return arr;
  }
  const o = g.chance(0.1) ? Object.create(null) : {};
  for (const k of new Set(Array.from({ length: g.int(4) }, () => g.pick(KEYS)))) {
    if (k === "__proto__") Object.defineProperty(o, k, { value: value(g, depth + 1), enumerable: true, writable: true, configurable: true });
    else o[k] = value(g, depth + 1);
  }
  return o;
}

/** A copy with the same JSON meaning but its own identity, keys maybe reordered. */
function respell(g, v) {
  if (Array.isArray(v)) return v.map((x) => respell(g, x));
  if (v instanceof Date) return g.chance(0.5) ? new Date(v) : v.toISOString();
  if (v && typeof v === "object" && !(v instanceof Money)) {
    const entries = Object.keys(v).map((k) => [k, respell(g, v[k])]);
    if (g.chance(0.3)) entries.reverse();
    const o = Object.getPrototypeOf(v) === null ? Object.create(null) : {};
    for (const [k, x] of entries) Object.defineProperty(o, k, { value: x, enumerable: true, writable: true, configurable: true });
    return o;
  }
  if (typeof v === "number" && Number.isNaN(v)) return g.pick([NaN, null, Infinity]);
  if (typeof v === "bigint") return g.chance(0.5) ? v : String(v);
  return v;
}

function change(g, v) {
  if (Array.isArray(v) && v.length && g.chance(0.5)) return [...v.slice(1), change(g, v[0])];
  if (v && typeof v === "object" && !Array.isArray(v) && !(v instanceof Date) && !(v instanceof Money) && Object.keys(v).length && g.chance(0.5)) {
    const c = respell(g, v);
    const k = Object.keys(c)[0];
    Object.defineProperty(c, k, { value: change(g, c[k]), enumerable: true, writable: true, configurable: true });
    return c;
  }
  return value(g, 1);
}

function image(g, entries) {
  const o = {};
  for (const [k, v] of entries) Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  return o;
}

function pair(g) {
  // Wide rows too, past the size where the copy changes method.
  const width = g.chance(0.2) ? 20 + g.int(40) : 1 + g.int(8);
  const names = [...new Set(Array.from({ length: width }, (_, i) => (width > 12 ? `f${i}` : g.pick(KEYS))))];
  const before = names.map((k) => [k, value(g, 0)]);
  const after = [];
  for (const [k, v] of before) {
    const roll = g.int(10);
    if (roll === 0) continue;
    if (roll === 1) after.push([k, null]);
    else if (roll <= 3) after.push([k, change(g, v)]);
    else if (roll <= 5) after.push([k, respell(g, v)]);
    else after.push([k, v]);
  }
  for (const k of KEYS) if (!names.includes(k) && g.chance(0.08)) after.push([k, value(g, 0)]);
  if (g.chance(0.2)) after.reverse();
  return { before: image(g, before), after: image(g, after) };
}

const bigintAsString = (_k, v) => (typeof v === "bigint" ? v.toString() : v);

test("captureLog names the fields the core names for the same images as JSON text", async () => {
  const logs = [];
  const audit = betterAudit({ database: { writeLog: async (log) => void logs.push(log) }, auditTables: ["t"] });
  const seeds = process.env.AUDIT_DIFF_SEED ? [Number(process.env.AUDIT_DIFF_SEED)] : [1, 20261203, 99];
  let changed = 0;
  let respelledOnly = 0;
  for (const seed of seeds) {
    const g = generator(seed);
    for (let i = 0; i < 2000; i++) {
      const { before, after } = pair(g);
      logs.length = 0;
      await audit.captureLog({ tableName: "t", operation: "UPDATE", recordId: "1", before, after });
      const [log] = logs;
      const text = JSON.stringify([{ before, after }], bigintAsString);
      const [expected] = JSON.parse(core.auditChangedFieldsJson(text));
      const where = `seed ${seed}, pair ${i}: ${text}`;
      assert.deepEqual(log.diff?.changedFields ?? [], expected, where);
      assert.notEqual(log.beforeData, before);
      assert.deepEqual(Reflect.ownKeys(log.beforeData), Reflect.ownKeys(before), where);
      for (const k of Object.keys(before)) assert.equal(log.beforeData[k], before[k], where);
      assert.deepEqual(Reflect.ownKeys(log.afterData), Reflect.ownKeys(after), where);
      changed += expected.length;
      respelledOnly += Object.keys(before).filter((k) => Object.hasOwn(after, k) && before[k] !== after[k] && !expected.includes(k)).length;
    }
  }
  // Both answers occur often, including fields whose values differ as objects but not as JSON.
  assert.ok(changed > 3000, `changed ${changed}`);
  assert.ok(respelledOnly > 500, `respelled ${respelledOnly}`);
});

test("chosen pairs: what JavaScript settles and what it leaves to the core", async () => {
  const logs = [];
  const audit = betterAudit({ database: { writeLog: async (log) => void logs.push(log) }, auditTables: ["t"] });
  const fields = async (before, after) => {
    logs.length = 0;
    await audit.captureLog({ tableName: "t", operation: "UPDATE", recordId: "1", before, after });
    return logs[0].diff?.changedFields ?? [];
  };
  assert.deepEqual(await fields({ a: 1, b: "x", c: null, d: true }, { a: 1, b: "y", c: null, d: false }), ["b", "d"]);
  assert.deepEqual(await fields({ o: { x: 1, y: [1, 2] } }, { o: { y: [1, 2], x: 1 } }), []); // key order
  assert.deepEqual(await fields({ o: { x: 1, y: [1, 2] } }, { o: { x: 1, y: [1, 3] } }), ["o"]);
  assert.deepEqual(await fields({ n: NaN, i: -0 }, { n: null, i: 0 }), []); // as JSON writes them
  assert.deepEqual(await fields({ d: new Date(0) }, { d: "1970-01-01T00:00:00.000Z" }), []);
  assert.deepEqual(await fields({ big: 10n }, { big: "10" }), []);
  assert.deepEqual(await fields({ u: undefined, f: 1 }, { f: 1, u: 2 }), ["u"]); // undefined is missing
  assert.deepEqual(await fields({ gone: 1, u: 1 }, { u: undefined, added: 2 }), ["gone", "u", "added"]);
  assert.deepEqual(await fields({ i: 1 }, { i: "1" }), ["i"]);
  assert.deepEqual(await fields({ f: keyed }, { f: "f" }), []); // toJSON gets the field's name
  assert.deepEqual(await fields({ f: keyed }, { f: "" }), ["f"]);
  const proto = JSON.parse('{"__proto__": {"x": 1}, "a": 1}');
  logs.length = 0;
  await audit.captureLog({ tableName: "t", operation: "UPDATE", recordId: "1", before: proto, after: { ...proto, a: 2 } });
  assert.deepEqual(logs[0].diff.changedFields, ["a"]);
});
