/**
 * Drives the integrated authorization server's login and consent pages with plain HTTP form posts,
 * the way a browser would, so tests and scripts need no browser (docs/oauth.md, "Without a
 * browser"). Keeps the flow cookie the CSRF check needs. Returns the final redirect to the client
 * (carrying `code`, `state` and `iss`, or `error`).
 */
export interface FormLoginOptions {
  userId: string;
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
  s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

function hiddenFields(page: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const m of page.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) fields[m[1]!] = unescape(m[2]!);
  return fields;
}

function formAction(page: string): string {
  const m = /<form method="post" action="([^"]+)">/.exec(page);
  if (!m) throw new FormLoginError(200, undefined, 'no form on the page');
  return unescape(m[1]!);
}

export async function authorizeByForms(authorizationUrl: string | URL, opts: FormLoginOptions): Promise<URL> {
  const doFetch = opts.fetch ?? fetch;
  const start = new URL(authorizationUrl);
  const jar = new Map<string, string>();
  const cookieHeader = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');

  const send = async (url: URL, init: RequestInit = {}): Promise<Response> => {
    const headers = new Headers(init.headers);
    if (jar.size > 0) headers.set('cookie', cookieHeader());
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
  const location = async (res: Response, base: URL): Promise<URL> => {
    if (res.status < 300 || res.status > 399) return fail(res);
    return new URL(res.headers.get('location')!, base);
  };
  const post = (url: URL, fields: Record<string, string>) =>
    send(url, { method: 'POST', body: new URLSearchParams(fields), headers: { 'content-type': 'application/x-www-form-urlencoded' } });

  let next = await location(await send(start), start);
  if (next.origin !== start.origin) return next; // error redirect straight back to the client
  // Login page → choose the user.
  let page = await send(next);
  if (page.status !== 200) return fail(page);
  let html = await page.text();
  next = await location(await post(new URL(formAction(html), next), { ...hiddenFields(html), user_id: opts.userId }), next);
  // Consent page → approve or deny.
  page = await send(next);
  if (page.status !== 200) return fail(page);
  html = await page.text();
  return location(await post(new URL(formAction(html), next), { ...hiddenFields(html), decision: opts.decision ?? 'approve' }), next);
}
