/**
 * What the login and consent steps share: finding the pending flow named in the request and, on
 * POST, the CSRF check. The token must arrive twice, in the form and in the flow's SameSite cookie,
 * and both must equal the one stored with the flow (compared in constant time).
 */
import type { Request } from 'express';
import { timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { OAuthError, OAuthErrorCode } from '../../oauthError.js';
import { FlowStore, type Flow } from '../stores/flows.js';

const FlowIdSchema = z.string().regex(/^[A-Za-z0-9_-]{43}$/);

function flowNotFound(): OAuthError {
  return new OAuthError(
    OAuthErrorCode.InvalidRequest,
    'this authorization request has expired or was already answered; start again from the application',
  );
}

function sameSecret(a: string | undefined, b: string): boolean {
  if (a === undefined) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function cookieValue(req: Request, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** Whether the request carries the flow's CSRF cookie, i.e. comes from the browser that started it. */
export function flowCookieMatches(req: Request, flowId: string, flow: Flow): boolean {
  return sameSecret(cookieValue(req, FlowStore.cookieName(flowId)), flow.csrf);
}

export async function flowFromRequest(req: Request, flows: FlowStore): Promise<{ flowId: string; flow: Flow }> {
  const source = (req.method === 'POST' ? req.body : req.query) as Record<string, unknown> | undefined;
  const id = FlowIdSchema.safeParse(source?.['flow']);
  if (!id.success) throw flowNotFound();
  const flow = await flows.get(id.data);
  if (!flow) throw flowNotFound();
  if (req.method === 'POST') {
    const formToken = typeof source?.['csrf'] === 'string' ? source['csrf'] : undefined;
    const cookieToken = cookieValue(req, FlowStore.cookieName(id.data));
    if (!sameSecret(formToken, flow.csrf) || !sameSecret(cookieToken, flow.csrf)) {
      throw new OAuthError(
        OAuthErrorCode.InvalidRequest,
        'the form could not be verified (CSRF check failed); start again from the application',
      );
    }
  }
  return { flowId: id.data, flow };
}
