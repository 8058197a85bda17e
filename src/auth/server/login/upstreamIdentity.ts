/**
 * Turns the claims of a validated upstream ID token into our user id, and applies the sign-in
 * policy (allowed email domains).
 *
 * The user id is `<issuer>#<claim value>`: the claim is unique only within its issuer (OIDC Core
 * §2, `sub` is "locally unique ... within the Issuer"), so the issuer namespaces it. An issuer
 * has no fragment (OIDC Discovery §4.3), so the first `#` separates the two unambiguously, and no
 * `dev` user id (letters, digits, `._@+-`) can ever equal such an id.
 */
import { UpstreamLoginError } from '../errors.js';

export interface UpstreamIdentity {
  userId: string;
  /** What the consent page shows: the email or name, else the claim value. */
  label: string;
}

export interface IdentityPolicy {
  issuer: string;
  userClaim: string;
  allowedDomains?: string[];
}

// OIDC Core §2: `sub` is at most 255 ASCII characters; other claims get the same bound.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CLAIM_VALUE = /^[^\x00-\x1f\x7f]{1,255}$/;

function verifiedEmail(claims: Record<string, unknown>): string | undefined {
  const email = claims['email'];
  // OIDC Core §5.1: an unverified email says nothing about who signed in.
  return typeof email === 'string' && claims['email_verified'] === true ? email : undefined;
}

export function upstreamIdentity(claims: Record<string, unknown>, policy: IdentityPolicy): UpstreamIdentity {
  const raw = claims[policy.userClaim];
  const value = typeof raw === 'number' ? String(raw) : raw;
  if (typeof value !== 'string' || !CLAIM_VALUE.test(value)) {
    throw new UpstreamLoginError(
      'server_error',
      `the identity provider's ID token has no usable ${policy.userClaim} claim`,
      502,
    );
  }
  if (policy.userClaim === 'email' && verifiedEmail(claims) === undefined) {
    throw new UpstreamLoginError('access_denied', 'your email address is not verified at the identity provider', 403);
  }
  if (policy.allowedDomains) {
    const email = verifiedEmail(claims);
    const domain = email?.slice(email.lastIndexOf('@') + 1).toLowerCase();
    if (!domain || !policy.allowedDomains.some((d) => d.toLowerCase() === domain)) {
      throw new UpstreamLoginError(
        'access_denied',
        email
          ? `accounts of ${domain} may not sign in here`
          : 'sign-in requires a verified email address in an allowed domain',
        403,
      );
    }
  }
  const name = [claims['email'], claims['preferred_username'], claims['name']].find(
    (c) => typeof c === 'string' && c.length > 0,
  );
  return { userId: `${policy.issuer}#${value}`, label: typeof name === 'string' ? name : value };
}
