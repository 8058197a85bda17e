/**
 * The security headers of every response (helmet), for the MCP server and the authorization server
 * alike, and the way they are set: the middleware runs once at start-up and what it did is replayed
 * as one step.
 *
 * helmet applies its headers through a chain of middlewares on every response; with fixed
 * options their output never changes, so on the hot path (`/mcp`) the chain is pure overhead. The
 * middleware is probed with a request it cannot read and a response that only records
 * `setHeader`/`removeHeader`: if it touches anything else (a CSP nonce function reading the request,
 * say), does not finish synchronously or fails, it is returned unchanged and runs per request.
 * staticHeaders.test.ts holds helmet to that contract for the options below.
 */
import type { RequestHandler } from 'express';
import helmet, { type HelmetOptions } from 'helmet';

/** helmet's options for a server whose public URL is https (`https`) or not. */
export function securityHeaderOptions(https: boolean): HelmetOptions {
  return {
    // HSTS only means something when clients reach us over https.
    strictTransportSecurity: https,
    frameguard: { action: 'deny' },
  };
}

export function securityHeaders(https: boolean): RequestHandler {
  return precomputedHeaders(helmet(securityHeaderOptions(https)));
}

/** A header set to a value, or removed (`undefined`), in the order the middleware did it. */
type HeaderOp = readonly [name: string, value: number | string | readonly string[] | undefined];

export function precomputedHeaders(middleware: RequestHandler): RequestHandler {
  const ops = probe(middleware);
  if (!ops) return middleware;
  return (_req, res, next) => {
    for (const [name, value] of ops) {
      if (value === undefined) res.removeHeader(name);
      else res.setHeader(name, value);
    }
    next();
  };
}

/** The header operations of a request-independent middleware, or undefined if it is not one. */
export function probe(middleware: RequestHandler): HeaderOp[] | undefined {
  const ops: HeaderOp[] = [];
  let touched = false;
  let finished = false;
  let failed = false;
  const blind = <T extends object>(allowed: Record<string | symbol, unknown>): T =>
    new Proxy({} as T, {
      get: (_t, prop) => {
        if (Object.hasOwn(allowed, prop)) return allowed[prop];
        touched = true;
        return undefined;
      },
      has: () => ((touched = true), false),
      set: () => ((touched = true), true),
    });
  const req = blind<Parameters<RequestHandler>[0]>({});
  const res = blind<Parameters<RequestHandler>[1]>({
    setHeader: (name: string, value: HeaderOp[1]) => ops.push([name, value]),
    removeHeader: (name: string) => ops.push([name, undefined]),
  });
  try {
    middleware(req, res, (err?: unknown) => {
      finished = true;
      failed = err !== undefined && err !== null;
    });
  } catch {
    return undefined;
  }
  return !touched && finished && !failed ? ops : undefined;
}
