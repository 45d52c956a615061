// Who is acting, read from a Fetch `Request`: a header, a cookie, or a Bearer JWT claim.
import core from "@usebetter-rs/core";
import type { VerifyOptions } from "@usebetter-rs/core";

export type ValueExtractor = (request: Request) => string | undefined | Promise<string | undefined>;
export interface ContextExtractor {
  actor?: ValueExtractor;
}

export function fromHeader(headerName: string): ValueExtractor {
  return (request) => request.headers.get(headerName)?.trim() || undefined;
}

export function fromCookie(cookieName: string): ValueExtractor {
  return (request) => {
    for (const part of (request.headers.get("cookie") ?? "").split(";")) {
      const eq = part.indexOf("=");
      if (eq > 0 && part.slice(0, eq).trim() === cookieName) return part.slice(eq + 1).trim() || undefined;
    }
    return undefined;
  };
}

/**
 * The claim of the Bearer token, read by the core. With `verify` (secret, publicKey or jwks) the
 * token is verified (signature, exp, nbf, aud, iss) and a bad token gives no actor. Without keys
 * the payload is only decoded, as the reference does (any client can then claim any actor),
 * except that an `alg: none` token gives none.
 */
export function fromBearerToken(claim: string, verify?: VerifyOptions): ValueExtractor {
  return (request) => core.bearerClaim(request.headers.get("authorization"), claim, verify ?? null) ?? undefined;
}
