/**
 * Resource templates (RFC 6570 URI templates, MCP 2025-11-25 server/resources §Resource
 * Templates), each with its reader and the completer for its variables (utilities/completion).
 */
import { UriTemplate, type ResourceTemplateType } from '@modelcontextprotocol/server';
import { ICONS } from '../assets.js';
import { STATIC_RESOURCE_COUNT, staticResourceContents, type ResourceContents } from './catalog.js';

export type Completer = (value: string, context: Record<string, string>) => string[];

export interface TemplateEntry {
  template: ResourceTemplateType;
  matcher: UriTemplate;
  /** Undefined when the variables name no resource (→ -32002). */
  read(uri: string, vars: Record<string, string>): ResourceContents | undefined;
  complete: Record<string, Completer>;
}

/** Ids 1..100 whose decimal form starts with what the user typed. */
export const completeStaticId: Completer = (value) =>
  Array.from({ length: STATIC_RESOURCE_COUNT }, (_, i) => String(i + 1)).filter((id) => id.startsWith(value));

function entry(template: ResourceTemplateType, rest: Omit<TemplateEntry, 'template' | 'matcher'>): TemplateEntry {
  return { template, matcher: new UriTemplate(template.uriTemplate), ...rest };
}

export const TEMPLATES: readonly TemplateEntry[] = [
  entry(
    {
      uriTemplate: 'test://static/resource/{id}',
      name: 'static-resource',
      title: 'Static resource by id',
      description: 'One of the 100 static resources (odd ids are text, even ids are binary); {id} completes',
      icons: ICONS.resource,
    },
    {
      read: (_uri, vars) => staticResourceContents(/^\d+$/.test(vars.id ?? '') ? Number(vars.id) : NaN),
      complete: { id: completeStaticId },
    },
  ),
  // Named by the conformance suite's resources-templates-read scenario.
  entry(
    {
      uriTemplate: 'test://template/{id}/data',
      name: 'template-data',
      title: 'Templated JSON data',
      description: 'JSON document generated from the {id} in its URI',
      mimeType: 'application/json',
    },
    {
      read: (uri, vars) => ({
        uri,
        mimeType: 'application/json',
        text: JSON.stringify({ id: vars.id, templateTest: true, data: `Data for ID: ${vars.id}` }),
      }),
      complete: { id: completeStaticId },
    },
  ),
];

export function findTemplate(uriTemplate: string): TemplateEntry | undefined {
  return TEMPLATES.find((t) => t.template.uriTemplate === uriTemplate);
}
