import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import express from 'express';
import request from 'supertest';
import { createLogger } from './logger.js';
import { maskUrl, requestIdOf, requestLogger } from './requestLog.js';

type Line = Record<string, unknown> & { msg?: string; reqId?: string; level?: number };

/** Collects log lines and lets a test await a specific one instead of sleeping. */
class LogCapture extends Writable {
  readonly lines: Line[] = [];
  raw = '';
  private readonly events = new EventEmitter();
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void) {
    const text = chunk.toString('utf8');
    this.raw += text;
    for (const l of text.split('\n').filter(Boolean)) {
      const line = JSON.parse(l) as Line;
      this.lines.push(line);
      this.events.emit('line', line);
    }
    cb();
  }
  waitFor(pred: (l: Line) => boolean): Promise<Line> {
    const found = this.lines.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve) => {
      const on = (l: Line) => {
        if (!pred(l)) return;
        this.events.off('line', on);
        resolve(l);
      };
      this.events.on('line', on);
    });
  }
}

const completion = (id: string) => (l: Line) => l.msg === 'request completed' && l.reqId === id;

function buildApp(capture: LogCapture, level = 'debug') {
  const log = createLogger(level, { destination: capture });
  const app = express();
  app.use(requestLogger({ log }));
  app.use(express.json());
  app.use(express.urlencoded({ extended: false }));
  app.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/oauth/callback', (req, res) => {
    res.json({ id: requestIdOf(req) });
  });
  app.post('/token', (req, res) => {
    // The kind of careless debug logging REDACT_PATHS exists to defuse.
    req.log!.info({ body: req.body, query: req.query, headers: req.headers }, 'token request');
    res.json({ ok: true });
  });
  app.post('/mcp', (req, res) => {
    req.log!.info('handled');
    res.json({ id: requestIdOf(req) });
  });
  return app;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('request ids', () => {
  it('generates one when none is sent, echoes it and logs it on every line of the request', async () => {
    const capture = new LogCapture();
    const res = await request(buildApp(capture)).post('/mcp').send({});
    const id = res.headers['x-request-id'] as string;
    expect(id).toMatch(UUID);
    expect(res.body.id).toBe(id);
    await capture.waitFor(completion(id));
    expect(capture.lines.find((l) => l.msg === 'handled')?.reqId).toBe(id);
  });

  it('honours a sane incoming X-Request-Id', async () => {
    const capture = new LogCapture();
    const res = await request(buildApp(capture)).post('/mcp').set('X-Request-Id', 'lb-7f3a.19:edge@eu-1').send({});
    expect(res.headers['x-request-id']).toBe('lb-7f3a.19:edge@eu-1');
    expect(res.body.id).toBe('lb-7f3a.19:edge@eu-1');
    await capture.waitFor(completion('lb-7f3a.19:edge@eu-1'));
  });

  it.each([
    ['with spaces and quotes', 'a b "c"'],
    ['too long', 'x'.repeat(129)],
    ['with JSON punctuation', '{"level":60}'],
    ['empty', ''],
  ])('replaces an incoming id %s', async (_what, bad) => {
    const capture = new LogCapture();
    const res = await request(buildApp(capture)).post('/mcp').set('X-Request-Id', bad).send({});
    const id = res.headers['x-request-id'] as string;
    expect(id).toMatch(UUID);
    await capture.waitFor(completion(id));
    if (bad.length > 0) expect(capture.raw).not.toContain(bad);
  });
});

describe('access log redaction', () => {
  const SECRETS = {
    bearer: 'eyJhbGciOiJSUzI1NiJ9.SECRET-ACCESS-TOKEN',
    cookie: 'SECRET-COOKIE-VALUE',
    code: 'SECRET-AUTH-CODE',
    state: 'SECRET-STATE',
    queryToken: 'SECRET-QUERY-TOKEN',
    clientSecret: 'SECRET-CLIENT-SECRET',
    refresh: 'SECRET-REFRESH-TOKEN',
    verifier: 'SECRET-CODE-VERIFIER',
  };

  function expectNoSecrets(capture: LogCapture) {
    for (const [name, value] of Object.entries(SECRETS)) {
      if (capture.raw.includes(value)) throw new Error(`log output contains the ${name}: ${capture.raw}`);
    }
  }

  it('never logs the Authorization header, cookies, or code/state/token values in the URL', async () => {
    const capture = new LogCapture();
    const res = await request(buildApp(capture))
      .get(
        `/oauth/callback?code=${SECRETS.code}&state=${SECRETS.state}&access_token=${SECRETS.queryToken}` +
          `&client_secret=${SECRETS.clientSecret}&iss=http%3A%2F%2Flocalhost`,
      )
      .set('Authorization', `Bearer ${SECRETS.bearer}`)
      .set('Cookie', `sid=${SECRETS.cookie}`);
    expect(res.status).toBe(200);
    const line = await capture.waitFor(completion(res.headers['x-request-id'] as string));
    expect((line['req'] as { url: string }).url).toBe(
      '/oauth/callback?code=[redacted]&state=[redacted]&access_token=[redacted]&client_secret=[redacted]' +
        '&iss=http%3A%2F%2Flocalhost',
    );
    expectNoSecrets(capture);
  });

  it('never logs secrets from a form body, JSON body or query, even when a handler logs them', async () => {
    const capture = new LogCapture();
    const app = buildApp(capture);
    const form = await request(app)
      .post(`/token?code=${SECRETS.code}`)
      .set('Authorization', `Bearer ${SECRETS.bearer}`)
      .set('Cookie', `sid=${SECRETS.cookie}`)
      .type('form')
      .send(
        `grant_type=refresh_token&refresh_token=${SECRETS.refresh}&client_secret=${SECRETS.clientSecret}` +
          `&code=${SECRETS.code}&code_verifier=${SECRETS.verifier}`,
      );
    const json = await request(app)
      .post('/token')
      .send({ grant_type: 'authorization_code', code: SECRETS.code, client_secret: SECRETS.clientSecret });
    await capture.waitFor(completion(form.headers['x-request-id'] as string));
    await capture.waitFor(completion(json.headers['x-request-id'] as string));
    // The handler's own line was written, just without the values.
    const handlerLine = capture.lines.find((l) => l.msg === 'token request');
    expect((handlerLine?.['body'] as Record<string, unknown>)['grant_type']).toBe('refresh_token');
    expectNoSecrets(capture);
  });
});

describe('identity on the access log', () => {
  it('names the authenticated user on the completion line', async () => {
    const capture = new LogCapture();
    const log = createLogger('info', { destination: capture });
    const app = express();
    app.use(requestLogger({ log }));
    app.use((req, _res, next) => {
      req.auth = { token: 'opaque-token-value', clientId: 'c', scopes: [], extra: { userId: 'alice' } };
      next();
    });
    app.get('/mcp', (_req, res) => {
      res.status(204).end();
    });
    const res = await request(app).get('/mcp');
    const line = await capture.waitFor(completion(res.headers['x-request-id'] as string));
    expect(line['user']).toBe('alice');
    expect(capture.raw).not.toContain('opaque-token-value');
  });
});

describe('log levels', () => {
  it('logs probes at debug, so they vanish at info', async () => {
    const capture = new LogCapture();
    const app = buildApp(capture, 'info');
    const probe = await request(app).get('/health');
    const call = await request(app).post('/mcp').send({});
    await capture.waitFor(completion(call.headers['x-request-id'] as string));
    expect(capture.lines.some((l) => l.reqId === probe.headers['x-request-id'])).toBe(false);
  });
});

describe('maskUrl', () => {
  it('masks listed parameters regardless of case or percent-encoding, and keeps the rest', () => {
    expect(maskUrl('/a?%63ode=x&Token=y&keep=1#frag')).toBe('/a?%63ode=[redacted]&Token=[redacted]&keep=1');
    expect(maskUrl('/a')).toBe('/a');
    expect(maskUrl('/a?code')).toBe('/a?code=[redacted]');
    expect(maskUrl('/a?refresh_token=r&x=%ZZ')).toBe('/a?refresh_token=[redacted]&x=%ZZ');
  });
});
