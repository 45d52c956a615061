import shared from "./shared.cjs";

export const { TENANT_CONTEXT, WRAP_TRANSACTION, AUDIT_CAPTURE_IN, coded, idBytes, randomBytes } = shared;
