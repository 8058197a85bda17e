import express from 'express';
import request from 'supertest';
import { Metrics } from '../observability/metrics.js';
import { metricsRouter, type MetricsEndpointOptions } from './metricsEndpoint.js';

function appWith(opts: MetricsEndpointOptions) {
  const app = express();
  app.use(metricsRouter(new Metrics({ defaultMetrics: false }), opts));
  return app;
}

const TOKEN = 'scrape-token-0123456789abcdef';

describe('GET /metrics', () => {
  it('serves the Prometheus text format when enabled without a token', async () => {
    const res = await request(appWith({ enabled: true })).get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(res.text).toContain('# TYPE http_requests_total counter');
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('does not exist when disabled', async () => {
    expect((await request(appWith({ enabled: false })).get('/metrics')).status).toBe(404);
  });

  it('requires the bearer token when one is configured', async () => {
    const app = appWith({ enabled: true, token: TOKEN });
    const missing = await request(app).get('/metrics');
    expect(missing.status).toBe(401);
    expect(missing.headers['www-authenticate']).toBe('Bearer realm="metrics"');
    expect(missing.text).not.toContain('http_requests_total');

    const wrong = await request(app).get('/metrics').set('Authorization', `Bearer ${TOKEN}x`);
    expect(wrong.status).toBe(401);
    const wrongScheme = await request(app).get('/metrics').set('Authorization', `Basic ${TOKEN}`);
    expect(wrongScheme.status).toBe(401);

    const ok = await request(app).get('/metrics').set('Authorization', `Bearer ${TOKEN}`);
    expect(ok.status).toBe(200);
    expect(ok.text).toContain('http_requests_total');
  });
});
