/**
 * Runs a fixed list of Express-style handlers without Express's router, for the hottest endpoint
 * (/mcp). Requests still get Express's request/response API (`res.status().json()`, `req.ip` with
 * `trust proxy`, `req.is`) from the app's own prototypes, exactly as `app.handle` gives it; only
 * the router's layer matching and bookkeeping are skipped, which is most of what Express costs per
 * request (docs/performance.md).
 *
 * With `expressServerOptions(app)` passed to `http.createServer`, requests and responses are born
 * with those prototypes instead of being re-parented with `Object.setPrototypeOf` on every request
 * (a hidden-class change after creation, a V8 slow path; docs/performance.md).
 */
import { IncomingMessage, ServerResponse, type ServerOptions } from 'node:http';
import type { ErrorRequestHandler, Express, Request, RequestHandler, Response } from 'express';

export function handlerChain(
  app: Express,
  /** Label for metrics (what Express would have reported as the route). */
  route: string,
  handlers: readonly RequestHandler[],
  onError: ErrorRequestHandler,
): (req: IncomingMessage, res: ServerResponse) => void {
  const classes = expressMessageClasses(app);
  return (rawReq, rawRes) => {
    const req = rawReq as Request;
    const res = rawRes as Response;
    // Born with Express's prototypes when the server uses `expressMessageClasses`; else re-parent.
    if (!(req instanceof classes.request)) Object.setPrototypeOf(req, app.request);
    if (!(res instanceof classes.response)) Object.setPrototypeOf(res, app.response);
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
        if (!res.headersSent)
          res.status(500).json({ jsonrpc: '2.0', error: { code: -32603, message: 'Internal error' }, id: null });
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

const classCache = new WeakMap<Express, { request: typeof IncomingMessage; response: typeof ServerResponse }>();

/**
 * Request and response classes whose instances are born with the app's Express prototypes, for
 * `http.createServer(options)`. Express re-parents every request and response object
 * (`Object.setPrototypeOf`) on the way in; objects created with the right prototype skip that,
 * and V8 keeps their shapes stable.
 */
export function expressMessageClasses(app: Express): {
  request: typeof IncomingMessage;
  response: typeof ServerResponse;
} {
  let classes = classCache.get(app);
  if (!classes) {
    class ExpressRequest extends IncomingMessage {}
    class ExpressResponse extends ServerResponse {}
    // app.request → express.request → IncomingMessage.prototype (same for responses).
    Object.setPrototypeOf(ExpressRequest.prototype, app.request);
    Object.setPrototypeOf(ExpressResponse.prototype, app.response);
    classes = { request: ExpressRequest, response: ExpressResponse as typeof ServerResponse };
    classCache.set(app, classes);
  }
  return classes;
}

/** `http.createServer` options that use `expressMessageClasses`. */
export function expressServerOptions(app: Express): ServerOptions {
  const { request, response } = expressMessageClasses(app);
  return { IncomingMessage: request, ServerResponse: response };
}
