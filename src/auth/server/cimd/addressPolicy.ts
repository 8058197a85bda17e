/**
 * Which addresses a Client ID Metadata Document may be fetched from. The AS fetches URLs chosen
 * by anyone who can load /authorize, so without this check it is an SSRF proxy into loopback,
 * RFC 1918 space and cloud metadata services (169.254.169.254). MCP security best practices: block
 * private, loopback, link-local and IPv6 ULA/link-local ranges. Only globally routable unicast
 * passes; IPv4-mapped IPv6 is judged as the IPv4 address it carries. Parsing is ipaddr.js's.
 */
import ipaddr from 'ipaddr.js';
import { isIP } from 'node:net';

/** The name of the forbidden range `address` is in, or undefined if it may be contacted. */
export function forbiddenRange(address: string): string | undefined {
  const bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  if (isIP(bare) === 0) return 'not an IP address';
  const parsed = ipaddr.process(bare);
  const range = parsed.range();
  return range === 'unicast' ? undefined : range;
}
