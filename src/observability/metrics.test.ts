import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { Router } from 'express';
import request from 'supertest';
import { metricsRouter } from '../http/metricsEndpoint.js';
import { authFailureMetrics, httpMetrics } from './httpMetrics.js';
import { Metrics, mcpMethodLabel } from './metrics.js';

/** A small app shaped like ours: metrics middleware first, then routes. */
function buildApp(metrics: Metrics) {
  const app = express();
  app.use(httpMetrics(metrics));
  app.use(metricsRouter(metrics, { enabled: true }));
  app.post('/mcp', (_req, res) => {
    res.json({ jsonrpc: '2.0', id: 1, result: {} });
  });
  app.get('/mcp', (_req, res) => {
    // A standalone SSE stream that the test ends right away.
    res.writeHead(200, { 'Content-Type': 'text/event-stream' });
    res.end(': ok\n\n');
  });
  app.delete('/sessions/:id', (_req, res) => {
    res.status(204).end();
  });
  const admin = Router();
  admin.get('/users/:userId', (_req, res) => {
    res.status(403).json({ error: 'forbidden' });
  });
  app.use('/admin', admin);
  app.use('/fixed', (_req, res) => {
    res.locals['metricsRoute'] = '/fixed/*';
    res.status(200).send('x');
  });
  return app;
}

/** The value of one sample line of the exposition, or undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('Metrics', () => {
  it('reports HTTP requests by route pattern and status after a known sequence of calls', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const app = buildApp(metrics);

    await request(app).post('/mcp').send({}).expect(200);
    await request(app).post('/mcp').send({}).expect(200);
    await request(app).get('/mcp').expect(200);
    await request(app).delete('/sessions/3f2a9c').expect(204);
    await request(app).delete('/sessions/77b1e0').expect(204);
    await request(app).get('/admin/users/alice').expect(403);
    await request(app).get('/no/such/path/secret-id-123').expect(404);
    await request(app).get('/fixed/a/b').expect(200);

    const text = (await request(app).get('/metrics').expect(200)).text;

    expect(sample(text, 'http_requests_total{method="POST",route="/mcp",status="200"}')).toBe(2);
    expect(sample(text, 'http_requests_total{method="GET",route="/mcp",status="200"}')).toBe(1);
    expect(sample(text, 'http_requests_total{method="DELETE",route="/sessions/:id",status="204"}')).toBe(2);
    expect(sample(text, 'http_requests_total{method="GET",route="/admin/users/:userId",status="403"}')).toBe(1);
    expect(sample(text, 'http_requests_total{method="GET",route="unmatched",status="404"}')).toBe(1);
    expect(sample(text, 'http_requests_total{method="GET",route="/fixed/*",status="200"}')).toBe(1);
    // Raw paths (ids) never become label values.
    expect(text).not.toContain('3f2a9c');
    expect(text).not.toContain('alice');
    expect(text).not.toContain('secret-id-123');

    expect(sample(text, 'http_request_duration_seconds_count{method="POST",route="/mcp",status="200"}')).toBe(2);
    // The SSE GET stream is counted but kept out of the latency histogram.
    expect(sample(text, 'http_request_duration_seconds_count{method="GET",route="/mcp",status="200"}')).toBeUndefined();
  });

  it('exposes the MCP-level members that the routing code drives', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    metrics.mcpMessages.inc({ method: 'tools/call' });
    metrics.mcpMessages.inc({ method: 'tools/call' });
    metrics.mcpMessages.inc({ method: 'x-made-up/method-1' });
    metrics.mcpMessages.inc({ method: undefined, direction: 'out' });
    metrics.routingLatency.observe(0.003);
    metrics.routingLatency.observe(0.2);
    metrics.authFailures.inc({ reason: 'invalid_token' });
    metrics.rateLimitRejections.inc({ scope: 'user' });
    metrics.activeSessions.set(4);
    metrics.trackActive({ streams: () => ({ get: 2, post: 1 }) });

    const { body: text, contentType } = await metrics.exposition();
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(sample(text, 'mcp_messages_total{method="tools/call",direction="in"}')).toBe(2);
    expect(sample(text, 'mcp_messages_total{method="other",direction="in"}')).toBe(1);
    expect(sample(text, 'mcp_messages_total{method="response",direction="out"}')).toBe(1);
    expect(text).not.toContain('x-made-up');
    expect(sample(text, 'mcp_routing_latency_seconds_count')).toBe(2);
    expect(sample(text, 'mcp_routing_latency_seconds_bucket{le="0.005"}')).toBe(1);
    expect(sample(text, 'mcp_auth_failures_total{reason="invalid_token"}')).toBe(1);
    expect(sample(text, 'mcp_rate_limit_rejections_total{scope="user"}')).toBe(1);
    expect(sample(text, 'mcp_active_sessions')).toBe(4);
    expect(sample(text, 'mcp_active_streams{kind="get"}')).toBe(2);
    expect(sample(text, 'mcp_active_streams{kind="post"}')).toBe(1);
    expect(sample(text, 'mcp_active_streams{kind="legacy_sse"}')).toBe(0);
  });

  it('reads session counts from a source at scrape time', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    let n = 1;
    metrics.trackActive({ sessions: () => n });
    expect(sample((await metrics.exposition()).body, 'mcp_active_sessions')).toBe(1);
    n = 7;
    expect(sample((await metrics.exposition()).body, 'mcp_active_sessions')).toBe(7);
  });

  it('keeps two instances in one process apart (own registries, default metrics included)', async () => {
    const a = new Metrics();
    const b = new Metrics();
    a.authFailures.inc({ reason: 'missing_token' });
    const textA = (await a.exposition()).body;
    const textB = (await b.exposition()).body;
    expect(sample(textA, 'mcp_auth_failures_total{reason="missing_token"}')).toBe(1);
    expect(sample(textB, 'mcp_auth_failures_total{reason="missing_token"}')).toBeUndefined();
    expect(textA).toContain('process_cpu_user_seconds_total');
  });

  it('labels a request whose client went away before any response as 499', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const app = express();
    app.use(httpMetrics(metrics));
    let arrived!: () => void;
    const requestArrived = new Promise<void>((r) => (arrived = r));
    let closed!: () => void;
    const responseClosed = new Promise<void>((r) => (closed = r));
    app.post('/mcp', (_req, res) => {
      // Registered after the middleware's own listener, so the sample exists when this fires.
      res.once('close', () => closed());
      arrived();
    });
    const server = http.createServer(app);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const { port } = server.address() as AddressInfo;
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/mcp' });
      req.on('error', () => undefined);
      req.end('{}');
      await requestArrived;
      req.destroy();
      await responseClosed;
      const text = (await metrics.exposition()).body;
      expect(sample(text, 'http_requests_total{method="POST",route="/mcp",status="499"}')).toBe(1);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});

describe('authFailureMetrics', () => {
  it('counts Bearer challenges by RFC 6750 error code, and nothing else', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const app = express();
    app.use(authFailureMetrics(metrics));
    const challenge = (status: number, header: string) => (_req: express.Request, res: express.Response) => {
      res.setHeader('WWW-Authenticate', header);
      res.status(status).json({});
    };
    app.get('/none', challenge(401, 'Bearer resource_metadata="http://x/.well-known/oauth-protected-resource/mcp"'));
    app.get('/invalid', challenge(401, 'Bearer error="invalid_token", error_description="expired"'));
    app.get('/scope', challenge(403, 'Bearer error="insufficient_scope", scope="mcp admin"'));
    app.get('/odd', challenge(401, 'Bearer error="made_up_code_123"'));
    app.get('/basic', challenge(401, 'Basic realm="x"'));
    app.get('/ok', (_req, res) => {
      res.json({});
    });
    for (const path of ['/none', '/none', '/invalid', '/scope', '/odd', '/basic', '/ok']) await request(app).get(path);

    const text = (await metrics.exposition()).body;
    expect(sample(text, 'mcp_auth_failures_total{reason="missing_token"}')).toBe(2);
    expect(sample(text, 'mcp_auth_failures_total{reason="invalid_token"}')).toBe(1);
    expect(sample(text, 'mcp_auth_failures_total{reason="insufficient_scope"}')).toBe(1);
    expect(sample(text, 'mcp_auth_failures_total{reason="other"}')).toBe(1);
    expect(text).not.toContain('made_up_code_123');
  });
});

describe('mcpMethodLabel', () => {
  it('keeps known methods, maps responses and unknown names to fixed values', () => {
    expect(mcpMethodLabel('resources/read')).toBe('resources/read');
    expect(mcpMethodLabel('notifications/cancelled')).toBe('notifications/cancelled');
    expect(mcpMethodLabel(undefined)).toBe('response');
    expect(mcpMethodLabel('tools/call/../../x')).toBe('other');
  });
});
