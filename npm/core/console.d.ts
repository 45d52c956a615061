/** The usebetter console's product contract (what `betterTenant({ console })` and `betterAudit({ console })` register). */
export type ConsolePermission = "read" | "write" | "admin";
export interface ConsoleRequest {
  params: Record<string, string | undefined>;
  query: Record<string, string | undefined>;
  body?: unknown;
}
export interface ConsoleResponse {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}
export interface ConsoleProductEndpoint {
  method: "GET" | "POST" | "PATCH" | "DELETE";
  path: string;
  requiredPermission: ConsolePermission;
  handler: (request: ConsoleRequest) => Promise<ConsoleResponse>;
}
export interface ConsoleProduct {
  id: string;
  name: string;
  endpoints: ConsoleProductEndpoint[];
}
/** A console: anything products can register with. */
export interface ConsoleRegistration {
  registerProduct(product: ConsoleProduct): void;
}
/** `{ status: 400, body: { error } }`. */
export declare function badRequest(error: string): ConsoleResponse;
export declare function isPlainObject(value: unknown): value is Record<string, unknown>;
/**
 * Wraps a handler so that it never throws: a failure is `answer(error)` when that returns a
 * response, else `500 { error: "Internal server error" }`.
 */
export declare function consoleHandler(
  handler: (request: ConsoleRequest) => Promise<ConsoleResponse>,
  answer?: (error: unknown) => ConsoleResponse | undefined,
): (request: ConsoleRequest) => Promise<ConsoleResponse>;
