/**
 * Runs a fixed list of Express-style handlers without Express's router, for the hottest endpoint
 * (/mcp). Requests still get Express's request/response API (`res.status().json()`, `req.ip` with
 * `trust proxy`, `req.is`) from the app's own prototypes, exactly as `app.handle` gives it; only
 * the router's layer matching and bookkeeping are skipped. Measured in docs/performance.md: the
 * same routing behind a bare HTTP handler runs at ~2.5× the throughput of the full Express stack.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ErrorRequestHandler, Express, Request, RequestHandler, Response } from 'express';

export function handlerChain(
  app: Express,
  /** Label for metrics (what Express would have reported as the route). */
  route: string,
  handlers: readonly RequestHandler[],
  onError: ErrorRequestHandler,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (rawReq, rawRes) => {
    const req = rawReq as Request;
    const res = rawRes as Response;
    Object.setPrototypeOf(req, app.request);
    Object.setPrototypeOf(res, app.response);
    req.res = res;
    res.req = req;
    req.originalUrl = req.url;
    res.locals = Object.assign(Object.create(null) as Record<string, unknown>, { metricsRoute: route });

    let i = 0;
    let failed = false;
    const fail = (err: unknown) => {
      if (failed) return;
      failed = true;
      onError(err, req, res, () => {
        if (!res.headersSent) res.status(500).json({ jsonrpc: '2.0', error: { code: -32603, message: 'Internal error' }, id: null });
        else res.end();
      });
    };
    const next = (err?: unknown): void => {
      if (err !== undefined && err !== null) return fail(err);
      const handler = handlers[i++];
      if (!handler) return fail(new Error(`no handler answered ${route}`));
      try {
        const result: unknown = handler(req, res, next);
        // Like Express 5: a handler's rejected promise is an error passed on.
        if (result instanceof Promise) result.catch(fail);
      } catch (e) {
        fail(e);
      }
    };
    next();
  };
}
