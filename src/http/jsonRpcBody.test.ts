import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import express from 'express';
import request from 'supertest';
import { jsonRpcBodyErrors, jsonRpcBodyReader, parseJsonRpcBody } from './jsonRpcBody.js';

const MAX = 1024;
const ping = { jsonrpc: '2.0', id: 1, method: 'ping' };

function app(onError?: (err: unknown) => void) {
  const a = express();
  a.post('/', jsonRpcBodyReader(MAX), (req, res) => {
    const message = parseJsonRpcBody(req, res);
    if (message) res.json({ body: req.body as string, message });
  });
  a.use((err: unknown, req: express.Request, res: express.Response, next: express.NextFunction) => {
    onError?.(err);
    jsonRpcBodyErrors(MAX)(err, req, res, next);
  });
  return a;
}

describe('JSON-RPC body reader', () => {
  test('reads a plain UTF-8 body verbatim, with or without a charset parameter', async () => {
    const text = JSON.stringify({ ...ping, params: { note: 'grüße ✓' } });
    for (const type of ['application/json', 'application/json; charset=utf-8', 'Application/JSON;charset="UTF-8"']) {
      const res = await request(app()).post('/').set('Content-Type', type).send(text);
      expect(res.status).toBe(200);
      expect(res.body.body).toBe(text);
      expect(res.body.message.params.note).toBe('grüße ✓');
    }
  });

  test('drops a leading byte-order mark', async () => {
    const res = await request(app())
      .post('/')
      .set('Content-Type', 'application/json')
      .send(`\uFEFF${JSON.stringify(ping)}`);
    expect(res.status).toBe(200);
    expect(res.body.body).toBe(JSON.stringify(ping));
  });

  test('joins a body that arrives in several chunks', async () => {
    const server = http.createServer(app()).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    try {
      const text = JSON.stringify({ ...ping, params: { pad: 'x'.repeat(300), emoji: '🙂' } });
      const bytes = Buffer.from(text);
      const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = http.request(
          {
            port: (server.address() as AddressInfo).port,
            host: '127.0.0.1',
            method: 'POST',
            path: '/',
            headers: { 'content-type': 'application/json', 'content-length': bytes.length },
          },
          (res) => {
            let body = '';
            res
              .setEncoding('utf8')
              .on('data', (c: string) => (body += c))
              .on('end', () => resolve({ status: res.statusCode!, body }));
          },
        );
        req.on('error', reject);
        // Split inside the multi-byte emoji: decoding must happen after joining.
        const cut = bytes.length - 5;
        req.write(bytes.subarray(0, cut), () => setImmediate(() => req.end(bytes.subarray(cut))));
      });
      expect(answer.status).toBe(200);
      expect((JSON.parse(answer.body) as { body: string }).body).toBe(text);
    } finally {
      server.close();
    }
  });

  test('chunked and gzip bodies still work, and a chunked body over the limit is 413 (general path)', async () => {
    const text = JSON.stringify(ping);
    const server = http.createServer(app()).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const post = (headers: http.OutgoingHttpHeaders, body: Buffer | string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = http.request(
          { port: (server.address() as AddressInfo).port, host: '127.0.0.1', method: 'POST', path: '/', headers },
          (res) => {
            let data = '';
            res
              .setEncoding('utf8')
              .on('data', (c: string) => (data += c))
              .on('end', () => resolve({ status: res.statusCode!, body: data }));
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    try {
      const zipped = gzipSync(text);
      const gz = await post(
        { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': zipped.length },
        zipped,
      );
      expect(gz.status).toBe(200);
      expect((JSON.parse(gz.body) as { body: string }).body).toBe(text);
      // No Content-Length: Node sends Transfer-Encoding: chunked.
      const chunked = await post({ 'content-type': 'application/json' }, text);
      expect(chunked.status).toBe(200);
      expect((JSON.parse(chunked.body) as { body: string }).body).toBe(text);
      const bigChunked = await post(
        { 'content-type': 'application/json' },
        JSON.stringify({ ...ping, params: { pad: 'x'.repeat(MAX) } }),
      );
      expect(bigChunked.status).toBe(413);
    } finally {
      server.close();
    }
  });

  test('a declared length over the limit → 413; other types → 415; bad JSON → -32700', async () => {
    const big = JSON.stringify({ ...ping, params: { pad: 'x'.repeat(MAX) } });
    const declared = await request(app()).post('/').set('Content-Type', 'application/json').send(big);
    expect(declared.status).toBe(413);
    expect(declared.body.error.message).toContain(`${MAX} bytes`);

    const other = await request(app()).post('/').set('Content-Type', 'text/plain').send(JSON.stringify(ping));
    expect(other.status).toBe(415);
    const suffix = await request(app())
      .post('/')
      .set('Content-Type', 'application/vnd.api+json')
      .send(JSON.stringify(ping));
    expect(suffix.status).toBe(415);

    const bad = await request(app()).post('/').set('Content-Type', 'application/json').send('{"jsonrpc":');
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe(-32700);
  });

  test('a client that disconnects mid-body ends the chain with an error and leaves the server healthy', async () => {
    let aborted!: () => void;
    const sawError = new Promise<unknown>((resolve) => (aborted = resolve as () => void));
    const server = http.createServer(app((err) => (aborted as (e: unknown) => void)(err))).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    try {
      const port = (server.address() as AddressInfo).port;
      const req = http.request({
        port,
        host: '127.0.0.1',
        method: 'POST',
        path: '/',
        headers: { 'content-type': 'application/json', 'content-length': 500 },
      });
      req.on('error', () => undefined);
      req.write('{"jsonrpc":"2.0",', () => setImmediate(() => req.destroy()));
      expect((await sawError) as { type?: string }).toMatchObject({ type: 'request.aborted' });

      const ok = await request(server).post('/').set('Content-Type', 'application/json').send(JSON.stringify(ping));
      expect(ok.status).toBe(200);
    } finally {
      server.close();
    }
  });
});
