// An operator's decisions on one message (spec §6.1, §9.3, §9.4): `cancel` a queued message,
// `retry` a failed or expired one once more, `resolve` a held ambiguous one by sending it again
// or dropping it. The core writes the statement and judges what it found; in a tenant scope (or
// on the caller's transaction) row-level security limits them to the tenant's own messages.
import { inCallerTransaction, run, systemTransaction, type CallOptions, type Executor } from "./db";
import { EmailError, guard } from "./errors";
import type { SendContext } from "./send";

export type OperatorAction = "cancel" | "retry" | "resend" | "drop";

/** Applies `action` to message `id` (`eml_…`); resolves to its new status. */
export async function operate(ctx: SendContext, action: OperatorAction, id: unknown, opts?: CallOptions): Promise<"queued" | "cancelled"> {
  if (typeof id !== "string") throw new EmailError("EMAIL_INVALID_ARGUMENT", "invalid `id`: expected the message id (eml_…) that send() returned");
  const { params } = guard(EmailError, () => ctx.core.transition(action, id));
  const apply = async (ex: Executor) => {
    const rows = await run(ex, ctx.statements, "transition", params);
    return guard(EmailError, () => ctx.core.transitioned(action, id, rows));
  };
  // Outside any scope or `{ tx }`: the operator's system context.
  const status = await inCallerTransaction(ctx.db, false, opts, apply, (fn) => systemTransaction(ctx.db, fn));
  if (status === "queued") ctx.wake();
  return status;
}
