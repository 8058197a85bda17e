/**
 * Which addresses a Client ID Metadata Document may be fetched from. The AS fetches URLs chosen
 * by anyone who can load /authorize, so without this check it is an SSRF proxy into loopback,
 * RFC 1918 space and cloud metadata services (169.254.169.254). MCP security best practices: block
 * private, loopback, link-local and IPv6 ULA/link-local ranges. Only globally routable unicast
 * passes. IPv6 forms that carry an IPv4 address are judged as that address: IPv4-mapped
 * (`::ffff:a.b.c.d`, by ipaddr.js) and the deprecated IPv4-compatible form (`::a.b.c.d`, RFC 4291
 * §2.5.5.1, e.g. `::7f00:1` = 127.0.0.1), which ipaddr.js would otherwise call unicast.
 */
import ipaddr from 'ipaddr.js';
import { isIP } from 'node:net';

/** The name of the forbidden range `address` is in, or undefined if it may be contacted. */
export function forbiddenRange(address: string): string | undefined {
  const bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  if (isIP(bare) === 0) return 'not an IP address';
  const parsed = ipaddr.process(bare);
  if (parsed.kind() === 'ipv6') {
    const parts = (parsed as ipaddr.IPv6).parts;
    // ::/96 other than :: and ::1 (already named by ipaddr.js): an IPv4-compatible address.
    if (parts.slice(0, 6).every((p) => p === 0) && (parts[6] !== 0 || parts[7]! > 1)) {
      const v4 = ipaddr.fromByteArray([parts[6]! >> 8, parts[6]! & 0xff, parts[7]! >> 8, parts[7]! & 0xff]);
      const range = v4.range();
      // Never routable as such: refused even when the IPv4 inside is public.
      return range === 'unicast' ? 'ipv4Compatible' : range;
    }
  }
  const range = parsed.range();
  return range === 'unicast' ? undefined : range;
}
