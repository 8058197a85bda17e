/**
 * The server's resources: 100 numbered static resources (odd = text, even = base64 blob, like the
 * reference "everything" server) followed by the fixtures the official conformance suite reads.
 * Content is a pure function of the URI, so every instance serves the same bytes.
 */
import type { ReadResourceResult, Resource } from '@modelcontextprotocol/server';
import { ICONS, TINY_PNG_BASE64 } from '../assets.js';

export const STATIC_RESOURCE_COUNT = 100;

export type ResourceContents = ReadResourceResult['contents'][number];

export interface CatalogEntry {
  resource: Resource;
  read(): ResourceContents;
}

export function staticResourceUri(n: number): string {
  return `test://static/resource/${n}`;
}

/** Content of static resource `n` (1..100), or undefined outside that range. */
export function staticResourceContents(n: number): ResourceContents | undefined {
  if (!Number.isInteger(n) || n < 1 || n > STATIC_RESOURCE_COUNT) return undefined;
  const uri = staticResourceUri(n);
  return n % 2 === 1
    ? { uri, mimeType: 'text/plain', text: `Resource ${n}: This is a plaintext resource` }
    : {
        uri,
        mimeType: 'application/octet-stream',
        blob: Buffer.from(`Resource ${n}: This is a base64 blob`).toString('base64'),
      };
}

function staticEntry(n: number): CatalogEntry {
  const text = n % 2 === 1;
  return {
    resource: {
      uri: staticResourceUri(n),
      name: `resource-${n}`,
      title: `Resource ${n}`,
      description: text ? `Static plaintext resource number ${n}` : `Static binary (base64 blob) resource number ${n}`,
      mimeType: text ? 'text/plain' : 'application/octet-stream',
      annotations: { audience: ['user', 'assistant'], priority: text ? 0.7 : 0.3 },
      icons: ICONS.resource,
    },
    read: () => staticResourceContents(n)!,
  };
}

type FixtureBody = { mimeType: string; text: string } | { mimeType: string; blob: string };

function fixture(resource: Resource, body: FixtureBody): CatalogEntry {
  return { resource, read: () => ({ uri: resource.uri, ...body }) };
}

/** Fixtures named by @modelcontextprotocol/conformance's resources-* scenarios. */
const CONFORMANCE_FIXTURES: CatalogEntry[] = [
  fixture(
    {
      uri: 'test://static-text',
      name: 'static-text',
      title: 'Static text',
      description: 'A static text resource',
      mimeType: 'text/plain',
    },
    { mimeType: 'text/plain', text: 'This is the content of the static text resource.' },
  ),
  fixture(
    {
      uri: 'test://static-binary',
      name: 'static-binary',
      title: 'Static binary',
      description: 'A static PNG image',
      mimeType: 'image/png',
    },
    { mimeType: 'image/png', blob: TINY_PNG_BASE64 },
  ),
  fixture(
    {
      uri: 'test://watched-resource',
      name: 'watched-resource',
      title: 'Watched resource',
      description: 'A resource to subscribe to',
      mimeType: 'text/plain',
    },
    { mimeType: 'text/plain', text: 'Watched resource content.' },
  ),
];

/** Listing order: static 1..100 (ten full pages), then the fixtures. */
export const CATALOG: readonly CatalogEntry[] = [
  ...Array.from({ length: STATIC_RESOURCE_COUNT }, (_, i) => staticEntry(i + 1)),
  ...CONFORMANCE_FIXTURES,
];

const BY_URI = new Map(CATALOG.map((e) => [e.resource.uri, e]));

export function findCatalogEntry(uri: string): CatalogEntry | undefined {
  return BY_URI.get(uri);
}
