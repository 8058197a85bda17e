/**
 * The address a request came from, for rate limiting. X-Forwarded-For is attacker-controlled
 * except for the entries appended by our own proxies, so exactly `trustedHops` entries are
 * believed, counted from the right (the nearest proxy appends last). With 0 hops the header is
 * ignored entirely and the socket peer is the client.
 */
import ipaddr from 'ipaddr.js';
import type { Request } from 'express';

export function clientAddress(req: Request, trustedHops: number): string {
  const peer = req.socket.remoteAddress ?? 'unknown';
  if (trustedHops <= 0) return peer;
  const raw = req.headers['x-forwarded-for'];
  const header = Array.isArray(raw) ? raw.join(',') : (raw ?? '');
  const chain = [
    peer,
    ...header
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0)
      .reverse(),
  ];
  // chain[0] is our nearest proxy (the socket peer), chain[n] the address n trusted hops out.
  const candidate = chain[Math.min(trustedHops, chain.length - 1)]!;
  return ipaddr.isValid(candidate) ? candidate : peer;
}
