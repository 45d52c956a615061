// An operator's decisions on one message (spec §6.1, §9.3, §9.4): `cancel` a queued message,
// `retry` a failed or expired one once more, `resolve` a held ambiguous one by sending it again
// or dropping it. The core writes the statement and judges what it found; in a tenant scope (or
// on the caller's transaction) row-level security limits them to the tenant's own messages, and
// `{ tenantId }` limits a system-context call to that tenant's.
import { inCallerTransaction, run, systemTransaction, type CallOptions, type Executor } from "./db";
import { EmailError, guard } from "./errors";
import type { SendContext } from "./send";

export type OperatorAction = "cancel" | "retry" | "resend" | "drop";

/** Applies `action` to message `id` (`eml_…`); resolves to its new status. */
export async function operate(ctx: SendContext, action: OperatorAction, id: unknown, opts?: CallOptions): Promise<"queued" | "cancelled"> {
  if (typeof id !== "string") throw new EmailError("EMAIL_INVALID_ARGUMENT", "invalid `id`: expected the message id (eml_…) that send() returned");
  const tenantId: unknown = opts?.tenantId;
  if (tenantId !== undefined && typeof tenantId !== "string") throw new EmailError("EMAIL_INVALID_ARGUMENT", "invalid `tenantId`: expected the tenant's UUID");
  const { params } = guard(EmailError, () => ctx.core.transition(action, id, tenantId ?? null));
  const apply = async (ex: Executor) => {
    const rows = await run(ex, ctx.statements, "transition", params);
    return guard(EmailError, () => ctx.core.transitioned(action, id, rows));
  };
  // Outside any scope or `{ tx }`: system context, for the one tenant the operator names (never
  // every tenant's messages by default).
  const outside = (fn: (ex: Executor) => Promise<"queued" | "cancelled">) => {
    if (tenantId === undefined) {
      throw new EmailError(
        "EMAIL_TENANT_REQUIRED",
        `${action} needs a tenant: call it inside a tenant scope (tenant.runAs, the tenant middleware, or tenant.runAsSystem for every tenant), pass \`{ tx }\`, or pass \`{ tenantId }\` to act as the operator for that tenant`,
      );
    }
    return systemTransaction(ctx.db, fn);
  };
  const status = await inCallerTransaction(ctx.db, false, opts, apply, outside);
  if (status === "queued") ctx.wake();
  return status;
}
