import connections from "./connections.cjs";

export const { hearConnectionErrors } = connections;
