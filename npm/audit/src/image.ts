// Row images as JSON built in the database. `to_json(row)` keeps the table's column order
// (`jsonb` would sort the keys) but writes int8 and numeric values as JSON numbers, which
// JavaScript rounds beyond 2^53; those columns are written as strings instead, as the
// PostgreSQL drivers return them.

const PRECISE = /^(bigint|bigserial|int8|serial8|numeric|decimal)\b/i;

/** Whether a column of this SQL type must be kept as text in images. */
export const keepsAsText = (sqlType: string): boolean => PRECISE.test(sqlType.trim());

const literal = (s: string) => `'${s.replace(/'/g, "''")}'`;

/** SQL for the JSON image of `row` (e.g. `"users".*`), the given columns as strings. */
export function imageSql(row: string, textColumns: readonly string[]): string {
  if (!textColumns.length) return `to_json(${row})`;
  return `(SELECT json_object_agg(e.k, CASE WHEN e.k IN (${textColumns.map(literal).join(", ")}) AND json_typeof(e.v) = 'number' THEN to_json(e.v #>> '{}') ELSE e.v END ORDER BY e.o) FROM json_each(to_json(${row})) WITH ORDINALITY AS e(k, v, o))`;
}
