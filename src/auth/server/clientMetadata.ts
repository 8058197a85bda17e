/**
 * Client metadata (RFC 7591 §2) as this server accepts it, from a registration request (DCR) or a
 * Client ID Metadata Document. Only the fields the server uses are kept (unknown members such as
 * `jwks`, `contacts` or `software_statement` are dropped, RFC 7591 §3.2.1 allows that), and every
 * value is bounded: a registration is unauthenticated and lives for weeks, so it must not become
 * free storage for whoever can reach /register.
 */
import { z } from 'zod';
import { OAuthError, OAuthErrorCode } from '../oauthError.js';
import { redirectUriProblem } from './redirectUris.js';

export const SUPPORTED_CLIENT_AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'none'] as const;
export const SUPPORTED_GRANT_TYPES = ['authorization_code', 'refresh_token'] as const;
export type ClientAuthMethod = (typeof SUPPORTED_CLIENT_AUTH_METHODS)[number];
export type GrantType = (typeof SUPPORTED_GRANT_TYPES)[number];

export const MAX_REDIRECT_URIS = 10;
const MAX_URI_LENGTH = 2048;
const MAX_CLIENT_NAME_LENGTH = 200;

/** What a client asks for; shapes and sizes only (the policy is `acceptClientMetadata`). */
export const ClientMetadataSchema = z.object({
  redirect_uris: z
    .array(z.string().max(MAX_URI_LENGTH, `a redirect_uri may be at most ${MAX_URI_LENGTH} characters`), {
      message: 'redirect_uris must be an array of URLs',
    })
    .min(1, 'at least one redirect_uri is required')
    .max(MAX_REDIRECT_URIS, `at most ${MAX_REDIRECT_URIS} redirect_uris`),
  token_endpoint_auth_method: z.string().max(64).optional(),
  grant_types: z.array(z.string().max(64)).max(SUPPORTED_GRANT_TYPES.length, 'too many grant_types').optional(),
  response_types: z.array(z.string().max(64)).max(1, 'only response type code is supported').optional(),
  client_name: z
    .string()
    .max(MAX_CLIENT_NAME_LENGTH, `client_name may be at most ${MAX_CLIENT_NAME_LENGTH} characters`)
    .optional(),
});
export type ClientMetadata = z.infer<typeof ClientMetadataSchema>;

/** A client as stored and used: the accepted metadata with every default made explicit. */
export const ClientInfoSchema = z.object({
  client_id: z.string(),
  client_id_issued_at: z.number().optional(),
  /** RFC 7591 §3.2.1; 0 = never. Absent for public clients. */
  client_secret_expires_at: z.number().optional(),
  client_name: z.string().optional(),
  redirect_uris: z.array(z.string()),
  token_endpoint_auth_method: z.enum(SUPPORTED_CLIENT_AUTH_METHODS),
  grant_types: z.array(z.enum(SUPPORTED_GRANT_TYPES)),
  response_types: z.array(z.literal('code')),
});
export type ClientInfo = z.infer<typeof ClientInfoSchema>;

function metadataError(message: string): OAuthError {
  return new OAuthError(OAuthErrorCode.InvalidClientMetadata, message);
}

/** Parses `input` (shapes and sizes), throwing the RFC 7591 §3.2.2 error that names the problem. */
export function parseClientMetadata(input: unknown): ClientMetadata {
  const parsed = ClientMetadataSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = String(issue?.path[0] ?? '');
  const message = issue?.message ?? 'invalid client metadata';
  if (field === 'redirect_uris') throw new OAuthError(OAuthErrorCode.InvalidRedirectUri, message);
  throw metadataError(field ? `${field}: ${message}` : message);
}

/**
 * The server's policy on parsed metadata (RFC 7591 §2 defaults made explicit): redirect URIs https
 * or loopback http, a supported authentication method (default `client_secret_basic`), supported
 * grant types (default `authorization_code`), response type `code`.
 */
export function acceptClientMetadata(m: ClientMetadata, clientId: string): ClientInfo {
  for (const uri of m.redirect_uris) {
    const problem = redirectUriProblem(uri);
    if (problem) throw new OAuthError(OAuthErrorCode.InvalidRedirectUri, `redirect_uri ${uri} ${problem}`);
  }
  const method = m.token_endpoint_auth_method ?? 'client_secret_basic';
  if (!(SUPPORTED_CLIENT_AUTH_METHODS as readonly string[]).includes(method)) {
    throw metadataError(`token_endpoint_auth_method ${method} is not supported`);
  }
  const grantTypes = [...new Set(m.grant_types ?? ['authorization_code'])];
  for (const g of grantTypes) {
    if (!(SUPPORTED_GRANT_TYPES as readonly string[]).includes(g))
      throw metadataError(`grant type ${g} is not supported`);
  }
  for (const r of m.response_types ?? ['code']) {
    if (r !== 'code') throw metadataError(`response type ${r} is not supported`);
  }
  return {
    client_id: clientId,
    ...(m.client_name !== undefined ? { client_name: m.client_name } : {}),
    redirect_uris: [...new Set(m.redirect_uris)],
    token_endpoint_auth_method: method as ClientAuthMethod,
    grant_types: grantTypes as GrantType[],
    response_types: ['code'],
  };
}
