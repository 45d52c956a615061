import shared from "./shared.cjs";

export const { TENANT_CONTEXT, WRAP_TRANSACTION, coded } = shared;
