/**
 * Sign-ins in progress at the upstream provider, shared by every instance: the browser may leave
 * from one instance and come back to /oauth/callback on another. Keyed by the hash of `state`
 * (the value travels in URLs), TTL = the flow lifetime, taken exactly once (GETDEL): a replayed
 * or forged callback finds nothing.
 */
import type { Redis } from 'ioredis';
import { randomPKCECodeVerifier, randomNonce, randomState } from 'openid-client';
import { z } from 'zod';
import type { Keyspace } from '../../../redis/keys.js';
import { hashSecret } from '../secrets.js';

const UpstreamSignInSchema = z.object({
  flowId: z.string(),
  nonce: z.string(),
  codeVerifier: z.string(),
});
export type UpstreamSignIn = z.infer<typeof UpstreamSignInSchema>;

export class UpstreamSignIns {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keyspace,
    private readonly ttlSeconds: number,
  ) {}

  private key(state: string) {
    return this.keys.oauth('upstream', hashSecret(state));
  }

  async start(flowId: string): Promise<UpstreamSignIn & { state: string }> {
    const state = randomState();
    const record: UpstreamSignIn = { flowId, nonce: randomNonce(), codeVerifier: randomPKCECodeVerifier() };
    await this.redis.set(this.key(state), JSON.stringify(record), 'EX', this.ttlSeconds);
    return { ...record, state };
  }

  async take(state: string): Promise<UpstreamSignIn | undefined> {
    const raw = await this.redis.getdel(this.key(state));
    if (raw === null) return undefined;
    const parsed = UpstreamSignInSchema.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : undefined;
  }
}
