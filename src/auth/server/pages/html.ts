/**
 * HTML for the login, consent and error pages. Every interpolated value is escaped by the `html`
 * tag unless it is itself `html` output, so nothing a client or user supplied (client_name, user
 * id, scopes, URLs) can inject markup. Pages carry no script at all; the per-response CSP says so
 * (`script-src 'none'`), allows only the page's own nonce-tagged stylesheet, restricts form posts
 * and forbids framing (clickjacking on the consent button; MCP security best practices).
 */
import { randomBytes } from 'node:crypto';
import escapeHtml from 'escape-html';
import type { Response } from 'express';

export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

type Interpolation = SafeHtml | string | number | undefined | null | readonly Interpolation[];

function render(v: Interpolation): string {
  if (v === undefined || v === null) return '';
  if (v instanceof SafeHtml) return v.value;
  if (Array.isArray(v)) return v.map(render).join('');
  return escapeHtml(String(v));
}

export function html(strings: TemplateStringsArray, ...values: Interpolation[]): SafeHtml {
  let out = strings[0] ?? '';
  values.forEach((v, i) => {
    out += render(v) + (strings[i + 1] ?? '');
  });
  return new SafeHtml(out);
}

const STYLE = `
body{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;color:#1a1a1a}
h1{font-size:1.4rem}code{background:#f2f2f2;padding:0 .25rem;border-radius:3px;word-break:break-all}
label{display:block;margin:.8rem 0 .3rem}input[type=text]{width:100%;padding:.45rem;font-size:1rem;box-sizing:border-box}
button{padding:.5rem 1.1rem;font-size:1rem;margin:.8rem .5rem 0 0;cursor:pointer}
.warn{background:#fff4d6;border:1px solid #e6c15a;padding:.6rem;border-radius:4px}
.error{background:#fde2e1;border:1px solid #e08b86;padding:.6rem;border-radius:4px}
ul.users{padding-left:1.2rem}dl dt{font-weight:600;margin-top:.5rem}dl dd{margin-left:0}
`;

export interface PageOptions {
  status?: number;
  title: string;
  body: SafeHtml;
  /** Extra origins a form on this page may end up at (a POST answered by a 303 to the client). */
  formActionOrigins?: string[];
}

export function sendPage(res: Response, opts: PageOptions): void {
  const nonce = randomBytes(16).toString('base64');
  const formAction = ["'self'", ...(opts.formActionOrigins ?? [])].join(' ');
  res.status(opts.status ?? 200);
  res.setHeader(
    'Content-Security-Policy',
    [
      "default-src 'none'",
      "script-src 'none'",
      `style-src 'nonce-${nonce}'`,
      // Chrome applies form-action to the redirect that answers a form POST, so the consent page
      // must allow the client's redirect origin or the browser blocks the final hop.
      `form-action ${formAction}`,
      "frame-ancestors 'none'",
      "base-uri 'none'",
    ].join('; '),
  );
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Cache-Control', 'no-store');
  // Flow ids travel in page URLs; never leak them to another origin through Referer.
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.type('html');
  res.send(
    `<!doctype html><html lang="en"><head><meta charset="utf-8">` +
      `<meta name="viewport" content="width=device-width,initial-scale=1">` +
      `<title>${escapeHtml(opts.title)}</title><style nonce="${nonce}">${STYLE}</style></head>` +
      `<body>${opts.body.value}</body></html>`,
  );
}
