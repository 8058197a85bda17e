/**
 * resources/* on the low-level Server. McpServer's own resources/list returns everything in one
 * page and never sees the cursor, so this module owns the whole resources surface instead of
 * calling registerResource: the capability is declared here and McpServer never installs its
 * handlers (it would throw if someone later tried, which keeps it one way).
 */
import type { Server } from '@modelcontextprotocol/server';
import type { McpSession } from '../context.js';
import { ResourceNotFoundError } from '../errors.js';
import { paginate } from '../pagination.js';
import { CATALOG, findCatalogEntry, type ResourceContents } from './catalog.js';
import { TEMPLATES } from './templates.js';

export const RESOURCE_PAGE_SIZE = 10;

/** Reads any URI we serve: a catalog entry, else the first template that matches and resolves. */
export function readResource(uri: string): ResourceContents {
  const direct = findCatalogEntry(uri);
  if (direct) return direct.read();
  for (const t of TEMPLATES) {
    const vars = t.matcher.match(uri);
    if (!vars) continue;
    const flat = Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : v]));
    const contents = t.read(uri, flat);
    if (contents) return contents;
  }
  throw new ResourceNotFoundError(uri);
}

export function installResourceHandlers(server: Server): void {
  server.registerCapabilities({ resources: { subscribe: true, listChanged: false } });

  server.setRequestHandler('resources/list', async (request) => {
    const page = paginate('resources', CATALOG, request.params?.cursor, RESOURCE_PAGE_SIZE);
    return {
      resources: page.items.map((e) => e.resource),
      ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
    };
  });

  server.setRequestHandler('resources/templates/list', async (request) => {
    const page = paginate('resource-templates', TEMPLATES, request.params?.cursor, RESOURCE_PAGE_SIZE);
    return {
      resourceTemplates: page.items.map((t) => t.template),
      ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
    };
  });

  server.setRequestHandler('resources/read', async (request) => ({
    contents: [readResource(request.params.uri)],
  }));
}

/**
 * resources/subscribe and unsubscribe (2025-11-25 only: 2026-07-28 replaced them with
 * subscriptions/listen). Subscriptions live in the session state (Redis in the HTTP deployment),
 * not in the server object, so they survive the session moving to another instance. Unknown URIs
 * are refused with the same error a read would give.
 */
export function installSubscriptionHandlers(server: Server, session: McpSession): void {
  server.setRequestHandler('resources/subscribe', async (request) => {
    readResource(request.params.uri);
    await session.state.subscribe(request.params.uri);
    return {};
  });

  server.setRequestHandler('resources/unsubscribe', async (request) => {
    await session.state.unsubscribe(request.params.uri);
    return {};
  });
}
