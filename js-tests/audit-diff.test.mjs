// "Which fields changed" is decided twice from one definition (core audit::diff): in Rust for
// the captureLog pipeline (auditChangedFieldsJson) and in SQL for inline and trigger capture
// (auditDiffSql). On random pairs of row images, written as JSON text with every spelling JSON
// allows for one value (number forms, escapes, key order, repeated keys, whitespace), the two
// must name the same fields in the same order, with PostgreSQL computing the SQL side.
// AUDIT_DIFF_SEED=<n> runs one other seed.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import core from "@usebetter-rs/core";
import { connectAs, freshDatabase } from "./helpers/db.mjs";
import { generator } from "./helpers/seeded.mjs";

let dbh;
let client;
before(async () => {
  dbh = await freshDatabase("audit_diff");
  client = await connectAs("app", "app", dbh.name);
});
after(async () => {
  await client?.end();
  await dbh?.drop();
});

const STRINGS = ["", "a", "A", "é", "café", "😀", "/", '"', "\\", "\n", "x\ty", "line\r\n", "null", "1", "true", " ", "日本"];
const KEYS = ["id", "name", "a", "b", "é", "k\"q", "x y", "n", "big", "nested", "list", "flag", "😀", "Name", "_", "0"];
// Number values as (digits, places): digits / 10^places. Equal values get different spellings.
const MANTISSAS = ["0", "1", "2", "10", "15", "100", "9007199254740992", "9007199254740993", "123456789012345678901234567890", "31415926", "5"];

/** A random value as a tree the renderer can spell in several ways. */
function value(g, depth) {
  const kind = g.int(depth > 2 ? 4 : 6);
  if (kind === 0) return g.pick([{ t: "lit", v: "null" }, { t: "lit", v: "true" }, { t: "lit", v: "false" }]);
  if (kind === 1) return { t: "num", neg: g.chance(0.3), digits: g.pick(MANTISSAS), places: g.int(4) };
  if (kind === 2 || kind === 3) return { t: "str", v: g.pick(STRINGS) + (g.chance(0.3) ? g.pick(STRINGS) : "") };
  if (kind === 4) return { t: "arr", items: Array.from({ length: g.int(4) }, () => value(g, depth + 1)) };
  const keys = [...new Set(Array.from({ length: g.int(4) }, () => g.pick(KEYS)))];
  return { t: "obj", entries: keys.map((k) => [k, value(g, depth + 1)]) };
}

/** A value like `v`: the same one (the caller checks), or a nearby different one. */
function change(g, v) {
  if (v.t === "num" && g.chance(0.5)) return { ...v, digits: g.pick(MANTISSAS) };
  if (v.t === "num" && g.chance(0.5)) return { ...v, places: v.places + 1 };
  if (v.t === "str" && g.chance(0.5)) return { ...v, v: `${v.v}${g.pick(STRINGS) || "x"}` };
  if (v.t === "arr" && v.items.length > 1 && g.chance(0.5)) return { ...v, items: [...v.items].reverse() };
  if (v.t === "obj" && v.entries.length && g.chance(0.5)) {
    const [k, inner] = v.entries[0];
    return { ...v, entries: [[k, change(g, inner)], ...v.entries.slice(1)] };
  }
  return value(g, 1);
}

const hex4 = (g, unit) => {
  const h = unit.toString(16).padStart(4, "0");
  return `\\u${g.chance(0.5) ? h : h.toUpperCase()}`;
};

/** A string's JSON text, some characters written as escapes (surrogate pairs beyond U+FFFF). */
function escape(g, s) {
  let out = "";
  for (const ch of s) {
    if (!g.chance(0.3)) out += JSON.stringify(ch).slice(1, -1);
    else if (ch === "/") out += "\\/";
    else out += ch.split("").map((unit) => hex4(g, unit.charCodeAt(0))).join("");
  }
  return `"${out}"`;
}

/** digits / 10^places as JSON text: plain, scientific or normalised, with extra zeros. */
function number(g, { neg, digits, places }) {
  const sign = neg ? "-" : "";
  const zeros = digits === "0" ? 0 : g.int(3);
  const form = g.int(3);
  if (form === 0) {
    const exp = places + zeros;
    return `${sign}${digits}${"0".repeat(zeros)}${exp ? `e-${exp}` : g.pick(["", "e0", "E+0"])}`;
  }
  if (form === 1 && digits !== "0") {
    const rest = digits.slice(1) + "0".repeat(zeros);
    const exp = digits.length - 1 - places;
    return `${sign}${digits[0]}${rest ? `.${rest}` : g.pick(["", ".0"])}${g.pick(["e", "E"])}${exp < 0 ? "-" : g.pick(["", "+"])}${Math.abs(exp)}`;
  }
  const padded = digits.padStart(places + 1, "0");
  const int = padded.slice(0, padded.length - places).replace(/^0+(?=\d)/, "");
  const frac = padded.slice(padded.length - places) + "0".repeat(zeros);
  return `${sign}${int}${frac ? `.${frac}` : ""}`;
}

const space = (g) => g.pick(["", "", " ", "\n  "]);

function render(g, v) {
  if (v.t === "lit") return v.v;
  if (v.t === "num") return number(g, v);
  if (v.t === "str") return escape(g, v.v);
  if (v.t === "arr") return `[${space(g)}${v.items.map((x) => render(g, x)).join(`,${space(g)}`)}]`;
  const entries = [...v.entries];
  if (g.chance(0.5)) entries.reverse();
  const members = entries.map(([k, x]) => `${escape(g, k)}${space(g)}:${space(g)}${render(g, x)}`);
  // A repeated key: jsonb keeps the last one, so an earlier different value changes nothing.
  if (entries.length && g.chance(0.2)) members.unshift(`${escape(g, entries[0][0])}:${render(g, value(g, 3))}`);
  return `{${space(g)}${members.join(`,${space(g)}`)}${space(g)}}`;
}

/** One pair: before and after share most keys; values are kept, respelled, changed or nulled. */
function pair(g) {
  const keys = [...new Set(Array.from({ length: 1 + g.int(7) }, () => g.pick(KEYS)))];
  const before = keys.map((k) => [k, value(g, 0)]);
  const after = [];
  for (const [k, v] of before) {
    const roll = g.int(10);
    if (roll === 0) continue;
    if (roll === 1) after.push([k, { t: "lit", v: "null" }]);
    else if (roll <= 4) after.push([k, change(g, v)]);
    else after.push([k, v]);
  }
  for (const k of KEYS) if (!keys.includes(k) && g.chance(0.1)) after.push([k, value(g, 0)]);
  if (g.chance(0.3)) after.reverse();
  // Top-level keys are distinct and keep their order (it orders the changed fields).
  const top = (entries) => `{${entries.map(([k, v]) => `${escape(g, k)}:${space(g)}${render(g, v)}`).join(",")}}`;
  if (g.chance(0.05)) return `{"after":${top(after)}}`;
  return `{"before":${top(before)},${space(g)}"after":${top(after)}}`;
}

async function compare(seed, count) {
  const g = generator(seed);
  const pairs = Array.from({ length: count }, () => pair(g));
  const text = `[${pairs.join(",")}]`;
  const rust = JSON.parse(core.auditChangedFieldsJson(text));
  const expr = core.auditDiffSql("p.x -> 'before'", "p.x -> 'after'");
  const { rows } = await client.query(`SELECT p.i::int AS i, ${expr} AS d FROM json_array_elements($1::json) WITH ORDINALITY AS p(x, i) ORDER BY p.i`, [text]);
  assert.equal(rows.length, count);
  let respelled = 0;
  let changed = 0;
  for (const { i, d } of rows) {
    const input = pairs[i - 1];
    const sqlFields = d ? d.changedFields : [];
    assert.deepEqual(rust[i - 1], sqlFields, `seed ${seed}, pair ${i}: ${input}\nSQL diff: ${JSON.stringify(d)}`);
    // Old and new values are present exactly where the field exists on that side.
    const { before = {}, after = {} } = JSON.parse(input);
    for (const c of d?.changes ?? []) {
      assert.equal("old" in c, Object.hasOwn(before, c.field), `seed ${seed}, pair ${i}: old of ${c.field}`);
      assert.equal("new" in c, Object.hasOwn(after, c.field), `seed ${seed}, pair ${i}: new of ${c.field}`);
    }
    assert.deepEqual(d?.changes.map((c) => c.field) ?? [], sqlFields);
    changed += sqlFields.length;
    respelled += Object.keys(before).filter((k) => Object.hasOwn(after, k) && !sqlFields.includes(k) && JSON.stringify(before[k]) !== JSON.stringify(after[k])).length;
  }
  return { changed, respelled };
}

test("the Rust diff and the SQL diff name the same changed fields on random pairs", async () => {
  const seeds = process.env.AUDIT_DIFF_SEED ? [Number(process.env.AUDIT_DIFF_SEED)] : [1, 20261130, 424242, 7];
  let changed = 0;
  let respelled = 0;
  for (const seed of seeds) {
    const r = await compare(seed, 1500);
    changed += r.changed;
    respelled += r.respelled;
  }
  // The generator reaches both sides of the decision, including values JavaScript would parse
  // differently but jsonb holds equal (and the reverse).
  assert.ok(changed > 1000, `changed ${changed}`);
  assert.ok(respelled > 50, `respelled ${respelled}`);
});

test("the decisions the two diffs share, on chosen pairs", async () => {
  const cases = [
    [`{"before":{"a":1,"b":2},"after":{"b":2,"a":1}}`, []],
    [`{"before":{"n":1,"f":0.5,"z":0},"after":{"n":1.0,"f":5e-1,"z":-0.0}}`, []],
    [`{"before":{"big":9007199254740993},"after":{"big":9007199254740992}}`, ["big"]],
    [`{"before":{"o":{"x":[1,{"y":2}],"w":null}},"after":{"o":{"w":null,"x":[1,{"y":2}]}}}`, []],
    [`{"before":{"a":[1,2]},"after":{"a":[2,1]}}`, ["a"]],
    [`{"before":{"a":null},"after":{}}`, ["a"]],
    [`{"before":{},"after":{"a":null}}`, ["a"]],
    [`{"before":{"s":"caf\\u00e9"},"after":{"s":"café"}}`, []],
    [`{"before":{"d":{"k":1,"k":2}},"after":{"d":{"k":2}}}`, []],
    [`{"before":{"i":1},"after":{"i":"1"}}`, ["i"]],
    [`{"before":{"gone":1,"kept":1},"after":{"added":1,"kept":1}}`, ["gone", "added"]],
    [`{"after":{"a":1,"b":2}}`, ["a", "b"]],
  ];
  const text = `[${cases.map(([p]) => p).join(",")}]`;
  const rust = JSON.parse(core.auditChangedFieldsJson(text));
  const { rows } = await client.query(
    `SELECT ${core.auditDiffSql("p.x -> 'before'", "p.x -> 'after'")} AS d FROM json_array_elements($1::json) WITH ORDINALITY AS p(x, i) ORDER BY p.i`,
    [text],
  );
  cases.forEach(([input, expected], i) => {
    assert.deepEqual(rust[i], expected, `Rust: ${input}`);
    assert.deepEqual(rows[i].d?.changedFields ?? [], expected, `SQL: ${input}`);
  });
});
