import http, { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { jest } from '@jest/globals';
import express from 'express';
import { expressMessageClasses, expressServerOptions, handlerChain } from './handlerChain.js';

async function serve(listener: http.RequestListener, options: http.ServerOptions = {}) {
  const server = http.createServer(options, listener).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('handlerChain', () => {
  const app = express();
  const chain = handlerChain(
    app,
    '/mcp',
    [
      (req, res, next) => {
        res.locals['seen'] = req.get('x-test');
        next();
      },
      (_req, res) => void res.status(201).json({ seen: res.locals['seen'], route: res.locals['metricsRoute'] }),
    ],
    (err, _req, res, _next) => void res.status(500).json({ error: String(err) }),
  );

  test('requests born with the app prototypes are served without re-parenting', async () => {
    const { server, url } = await serve(chain, expressServerOptions(app));
    const spy = jest.spyOn(Object, 'setPrototypeOf');
    try {
      const res = await fetch(`${url}/mcp`, { headers: { 'x-test': 'yes' } });
      expect(res.status).toBe(201);
      expect(await res.json()).toEqual({ seen: 'yes', route: '/mcp' });
      expect(spy).not.toHaveBeenCalled();
    } finally {
      spy.mockRestore();
      server.close();
    }
  });

  test('plain Node requests still get the Express API', async () => {
    const { server, url } = await serve(chain);
    try {
      const res = await fetch(`${url}/mcp`, { headers: { 'x-test': 'plain' } });
      expect(res.status).toBe(201);
      expect(await res.json()).toEqual({ seen: 'plain', route: '/mcp' });
    } finally {
      server.close();
    }
  });

  test('the classes extend Node’s and carry the app’s request/response API', () => {
    const { request, response } = expressMessageClasses(app);
    expect(request.prototype instanceof IncomingMessage).toBe(true);
    expect(response.prototype instanceof ServerResponse).toBe(true);
    expect(Object.getPrototypeOf(request.prototype)).toBe(app.request);
    expect(Object.getPrototypeOf(response.prototype)).toBe(app.response);
    expect(expressMessageClasses(app)).toBe(expressMessageClasses(app));
  });
});
