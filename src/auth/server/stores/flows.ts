/**
 * Pending authorizations: what /authorize validated, waiting for login and consent. Stored under
 * the hash of the flow id (the id travels in page URLs), TTL = flow lifetime, consumed exactly once
 * when the consent form is answered.
 *
 * `csrf` is a per-flow random token rendered into the forms and also set as a SameSite cookie at
 * /authorize; a POST must present both, so a cross-site page cannot submit the consent form for a
 * flow running in someone else's browser.
 */
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { Keyspace } from '../../../redis/keys.js';
import { hashSecret, newOpaqueToken } from '../secrets.js';

export const FlowSchema = z.object({
  clientId: z.string(),
  redirectUri: z.string(),
  redirectUriGiven: z.boolean(),
  state: z.string().optional(),
  codeChallenge: z.string(),
  scopes: z.array(z.string()),
  resource: z.string(),
  csrf: z.string(),
  /** Set by the login step. */
  userId: z.string().optional(),
  /** How the consent page names the user (an upstream email or name); defaults to the user id. */
  userLabel: z.string().optional(),
});
export type Flow = z.infer<typeof FlowSchema>;

export class FlowStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keyspace,
    private readonly flowSeconds: number,
  ) {}

  private key(flowId: string) {
    return this.keys.oauth('flow', hashSecret(flowId));
  }

  async create(input: Omit<Flow, 'csrf' | 'userId' | 'userLabel'>): Promise<{ flowId: string; flow: Flow }> {
    const flowId = newOpaqueToken();
    const flow: Flow = { ...input, csrf: newOpaqueToken() };
    await this.redis.set(this.key(flowId), JSON.stringify(flow), 'EX', this.flowSeconds);
    return { flowId, flow };
  }

  async get(flowId: string): Promise<Flow | undefined> {
    const raw = await this.redis.get(this.key(flowId));
    return raw === null ? undefined : FlowSchema.parse(JSON.parse(raw));
  }

  /** Records the logged-in user without extending the flow's deadline. */
  async setUser(flowId: string, flow: Flow, userId: string, userLabel?: string): Promise<boolean> {
    // PTTL + PX rather than KEEPTTL: the embedded Redis stand-in ignores KEEPTTL.
    const ttl = await this.redis.pttl(this.key(flowId));
    if (ttl <= 0) return false;
    const r = await this.redis.set(
      this.key(flowId),
      JSON.stringify({ ...flow, userId, ...(userLabel !== undefined ? { userLabel } : {}) }),
      'PX',
      ttl,
      'XX',
    );
    return r === 'OK';
  }

  /** Single use: of two concurrent consent posts only one gets the flow. */
  async take(flowId: string): Promise<Flow | undefined> {
    const raw = await this.redis.getdel(this.key(flowId));
    return raw === null ? undefined : FlowSchema.parse(JSON.parse(raw));
  }

  /** Cookie carrying the flow's CSRF token; the name is per flow so parallel flows do not clash. */
  static cookieName(flowId: string): string {
    return `oauth_flow_${hashSecret(flowId)
      .slice(0, 16)
      .replace(/[^A-Za-z0-9]/g, 'x')}`;
  }
}
