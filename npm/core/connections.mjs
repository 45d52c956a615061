import connections from "./connections.cjs";

export const { hearConnectionErrors, hearDriver, isPostgresJsSql, guardPostgresJs, postgresJsTransaction } = connections;
