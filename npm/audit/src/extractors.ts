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

function bearer(request: Request): string | undefined {
  const [scheme, token, ...rest] = (request.headers.get("authorization") ?? "").trim().split(" ");
  return scheme?.toLowerCase() === "bearer" && token && !rest.length ? token : undefined;
}

/**
 * The claim of the Bearer token. With `verify` (secret, publicKey or jwks) the token is
 * verified in Rust (signature, exp, nbf, aud, iss) and a bad token gives no actor. Without
 * keys the payload is only decoded, as the reference does: any client can then claim any actor.
 */
export function fromBearerToken(claim: string, verify?: VerifyOptions): ValueExtractor {
  return (request) => {
    const token = bearer(request);
    if (!token) return undefined;
    let claims: Record<string, unknown>;
    if (verify) {
      try {
        claims = core.verifyJwt(token, verify);
      } catch {
        return undefined;
      }
    } else {
      try {
        const payload = JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString("utf8")) as unknown;
        if (!payload || typeof payload !== "object" || Array.isArray(payload)) return undefined;
        claims = payload as Record<string, unknown>;
      } catch {
        return undefined;
      }
    }
    const value = claims[claim];
    return typeof value === "string" && value ? value : undefined;
  };
}
