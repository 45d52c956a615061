// The entries' table is declared in three places that must agree: the core's DDL (what
// `better-audit migrate` creates; auditContract() hands out its names), the Drizzle schema
// `auditLogs` (drizzle-kit imports it, so it is declared without loading the core), and the
// tests' fixture, the table drizzle-kit makes from that schema.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { getTableColumns } from "drizzle-orm";
import { getTableConfig } from "drizzle-orm/pg-core";
import core from "@usebetter-rs/core";
import { auditLogs } from "@usebetterdev/audit/drizzle";
import { connectAs, fixture, freshDatabase } from "./helpers/db.mjs";

let dbh;
let client;
before(async () => {
  dbh = await freshDatabase("audit_schema");
  client = await connectAs("app", "app", dbh.name);
});
after(async () => {
  await client?.end();
  await dbh?.drop();
});

const contract = core.auditContract();
// As the catalog's format_type and Drizzle's getSQLType spell the DDL's types.
const spelled = (type) => ({ "timestamp with time zone": "timestamptz" })[type] ?? type;

test("the Drizzle schema declares the core's table, columns, properties and indexes", () => {
  const config = getTableConfig(auditLogs);
  assert.equal(config.name, contract.table);
  const declared = Object.entries(getTableColumns(auditLogs)).map(([key, c]) => ({ name: c.name, key, type: spelled(c.getSQLType()) }));
  assert.deepEqual(declared.slice(0, contract.columns.length), contract.columns);
  assert.deepEqual(declared.slice(contract.columns.length).map((c) => c.name), contract.sealColumns);
  const indexes = config.indexes.map((i) => ({ name: i.config.name, columns: i.config.columns.map((c) => c.name) }));
  assert.deepEqual(indexes, contract.indexes);
});

test("the fixture creates the core's columns and indexes", async () => {
  await client.query(fixture("audit-logs.sql"));
  const { rows: columns } = await client.query(`SELECT attname::text AS name, format_type(atttypid, atttypmod) AS type FROM pg_attribute
    WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`, [contract.ref]);
  assert.deepEqual(
    columns.slice(0, contract.columns.length).map((c) => [c.name, spelled(c.type)]),
    contract.columns.map((c) => [c.name, c.type]),
  );
  assert.deepEqual(columns.slice(contract.columns.length).map((c) => c.name), contract.sealColumns);
  const { rows: indexes } = await client.query(`SELECT c.relname::text AS name, array_agg(a.attname::text ORDER BY k.o) AS columns
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
    CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, o)
    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
    WHERE i.indrelid = $1::regclass AND NOT i.indisprimary GROUP BY c.relname, c.oid ORDER BY c.oid`, [contract.ref]);
  assert.deepEqual(indexes, contract.indexes);
});
