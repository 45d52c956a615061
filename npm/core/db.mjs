import db from "./db.cjs";

export const { arrayAsLiteral, executorOf, transactionOn, ambientTransaction, jsonValue, jsonRows } = db;
