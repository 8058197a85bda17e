/**
 * Debian's Chromium (`/usr/bin/chromium`, never a Playwright browser download) driven by
 * playwright-core, with a fresh profile, no network but loopback, and a record of everything that
 * would mean the flow is broken for a real user even when the page looks fine: CSP violations
 * (e.g. a consent form whose post is blocked by `form-action`), CORS errors, uncaught page errors,
 * and requests that left loopback.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

const FLAGS = [
  '--no-sandbox',
  '--headless',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Console texts Chromium prints for the failures this test must not see. */
const BROKEN_FLOW =
  /Content Security Policy|Refused to|blocked by CORS|CORS policy|Access-Control-Allow-Origin|form-action/i;

export interface Incident {
  kind: 'csp' | 'console' | 'pageerror' | 'offline' | 'requestfailed';
  text: string;
}

export interface GuardedBrowser {
  context: BrowserContext;
  page: Page;
  /** What went wrong so far (empty on a clean run). */
  incidents: Incident[];
  /** Requests to anything but loopback, all blocked, with the page that made them. */
  blocked: Array<{ request: string; from: string }>;
  /** Every top-level navigation of the page, in order (to see where the Inspector sent the user). */
  navigations: string[];
  close(): Promise<void>;
}

function isLoopback(url: URL): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export async function launchChromium(viewport = { width: 1280, height: 800 }): Promise<GuardedBrowser> {
  const profile = await mkdtemp(join(tmpdir(), 'chromium-profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    // Exactly our flags: Playwright's own headless/sandbox switches are not wanted on top.
    headless: false,
    chromiumSandbox: false,
    args: FLAGS,
    viewport,
    locale: 'en-US',
    timezoneId: 'UTC',
  });
  const incidents: Incident[] = [];
  const blocked: GuardedBrowser['blocked'] = [];
  const navigations: string[] = [];

  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.protocol === 'data:' || url.protocol === 'blob:' || isLoopback(url)) return route.continue();
    let from = '';
    try {
      from = route.request().frame().url();
    } catch {
      // A request of a service worker has no frame.
    }
    blocked.push({ request: `${route.request().method()} ${url.origin}${url.pathname}`, from });
    return route.abort('blockedbyclient');
  });
  // securitypolicyviolation events reach us even on pages whose CSP forbids every script: the
  // init script and the binding are installed through the DevTools protocol, not the page.
  await context.exposeBinding('__reportCspViolation', (_source, text: string) => {
    incidents.push({ kind: 'csp', text });
  });
  await context.addInitScript(
    `document.addEventListener('securitypolicyviolation', (e) =>
      window.__reportCspViolation(e.violatedDirective + ' blocked ' + e.blockedURI + ' on ' + e.documentURI));`,
  );

  const watch = (page: Page) => {
    page.on('console', (msg) => {
      if (msg.type() === 'error' && BROKEN_FLOW.test(msg.text())) incidents.push({ kind: 'console', text: msg.text() });
    });
    page.on('pageerror', (err) => incidents.push({ kind: 'pageerror', text: err.message }));
    page.on('requestfailed', (req) => {
      const failure = req.failure()?.errorText ?? '';
      // Our own abort of non-loopback requests is recorded in `blocked`; a navigation replaced by
      // the next one is aborted by design. Anything else (CSP, CORS, connection refused) counts.
      if (failure.includes('ERR_BLOCKED_BY_CLIENT') || failure === 'net::ERR_ABORTED') return;
      incidents.push({ kind: 'requestfailed', text: `${req.method()} ${req.url().split('?')[0]} ${failure}` });
    });
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame()) navigations.push(frame.url());
    });
  };
  context.on('page', watch);
  const page = context.pages()[0] ?? (await context.newPage());
  watch(page);

  return {
    context,
    page,
    incidents,
    blocked,
    navigations,
    async close() {
      await context.close().catch(() => undefined);
      await rm(profile, { recursive: true, force: true });
    },
  };
}
