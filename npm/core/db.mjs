import db from "./db.cjs";

export const { arrayAsLiteral, executorOf, transactionOn, databaseAdapter, drizzleAdapter, ambientTransaction, jsonValue, jsonRows } = db;
