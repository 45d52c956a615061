import db from "./db.cjs";

export const { afterFirst, arrayAsLiteral, executorOf, transactionOn, databaseAdapter, drizzleAdapter, ambientTransaction, jsonValue, jsonRows } = db;
