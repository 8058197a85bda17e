/**
 * Drives the authorization server's pages with plain HTTP, the way a browser would, so tests and
 * scripts need no browser (docs/oauth.md, "Without a browser"): follows redirects with a cookie
 * jar per origin (the flow cookie the CSRF check needs, and an upstream identity provider's
 * cookies), posts the dev login form as `userId`, and answers the consent form. With
 * LOGIN_PROVIDER=oidc the login step is a detour through the upstream provider, whose sign-in the
 * test fixture answers by redirects. Returns the final redirect to the client (carrying `code`,
 * `state` and `iss`, or `error`).
 */
export interface FormLoginOptions {
  /** The user id typed on the dev login page (unused when the upstream provider signs in). */
  userId?: string;
  decision?: 'approve' | 'deny';
  fetch?: typeof fetch;
}

export class FormLoginError extends Error {
  override name = 'FormLoginError';
  constructor(
    readonly status: number,
    /** The OAuth error code shown on the page, if any. */
    readonly errorCode: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

const unescape = (s: string) =>
  s
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');

function hiddenFields(page: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const m of page.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g))
    fields[m[1]!] = unescape(m[2]!);
  return fields;
}

function formAction(page: string): string | undefined {
  const m = /<form method="post" action="([^"]+)">/.exec(page);
  return m ? unescape(m[1]!) : undefined;
}

export async function authorizeByForms(authorizationUrl: string | URL, opts: FormLoginOptions): Promise<URL> {
  const doFetch = opts.fetch ?? fetch;
  const start = new URL(authorizationUrl);
  const redirectUri = start.searchParams.get('redirect_uri');
  const jars = new Map<string, Map<string, string>>();
  // Origins the flow may pass through: ours, and the provider our login step sends us to.
  const trusted = new Set([start.origin]);

  const send = async (url: URL, init: RequestInit = {}): Promise<Response> => {
    const jar = jars.get(url.origin) ?? new Map<string, string>();
    jars.set(url.origin, jar);
    const headers = new Headers(init.headers);
    if (jar.size > 0) headers.set('cookie', [...jar].map(([k, v]) => `${k}=${v}`).join('; '));
    const res = await doFetch(url, { ...init, headers, redirect: 'manual' });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      if (value === '' || /max-age=0|expires=thu, 01 jan 1970/i.test(c)) jar.delete(name);
      else jar.set(name, value);
    }
    return res;
  };
  const fail = async (res: Response): Promise<never> => {
    const text = await res.text();
    const code = /<code>([a-z_]+)<\/code>:/.exec(text)?.[1];
    const message = /<p class="error"><code>[a-z_]+<\/code>: ([^<]*)<\/p>/.exec(text)?.[1];
    throw new FormLoginError(res.status, code, unescape(message ?? `HTTP ${res.status}`));
  };
  const backToClient = (u: URL) =>
    redirectUri !== null
      ? `${u.origin}${u.pathname}` === redirectUri.replace(/\?.*$/, '') || u.href.startsWith(redirectUri)
      : !trusted.has(u.origin);

  let url = start;
  let res = await send(url);
  for (let hop = 0; hop < 30; hop++) {
    if (res.status >= 300 && res.status < 400) {
      const next = new URL(res.headers.get('location')!, url);
      if (backToClient(next)) return next;
      if (url.origin === start.origin && url.pathname === '/oauth/login') trusted.add(next.origin);
      if (!trusted.has(next.origin)) return next;
      url = next;
      res = await send(url);
      continue;
    }
    if (res.status !== 200) return fail(res);
    const page = await res.text();
    const action = formAction(page);
    if (!action) throw new FormLoginError(200, undefined, 'no form on the page');
    const answer: Record<string, string> = page.includes('name="user_id"')
      ? { user_id: opts.userId ?? 'alice' }
      : { decision: opts.decision ?? 'approve' };
    url = new URL(action, url);
    res = await send(url, {
      method: 'POST',
      body: new URLSearchParams({ ...hiddenFields(page), ...answer }),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
  }
  throw new FormLoginError(0, undefined, 'too many steps in the authorization flow');
}
