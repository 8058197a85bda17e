/**
 * completion/complete (2025-11-25 server/utilities/completion) for prompt arguments and resource
 * template variables, one handler for both because McpServer's would only know about things
 * registered through it. `context.arguments` (the values already chosen) reaches each completer.
 */
import type { CompleteResult, Server } from '@modelcontextprotocol/server';
import { InvalidCompletionRefError } from './errors.js';
import type { RegisteredPrompt } from './prompts/registry.js';
import { findCatalogEntry } from './resources/catalog.js';
import { findTemplate, type Completer } from './resources/templates.js';

/** The spec caps a completion response at 100 values. */
const MAX_VALUES = 100;

function result(values: string[]): CompleteResult {
  return {
    completion: { values: values.slice(0, MAX_VALUES), total: values.length, hasMore: values.length > MAX_VALUES },
  };
}

export function installCompletions(server: Server, prompts: readonly RegisteredPrompt[]): void {
  const promptsByName = new Map(prompts.map((p) => [p.definition.name, p]));
  server.registerCapabilities({ completions: {} });

  server.setRequestHandler('completion/complete', async (request) => {
    const { ref, argument } = request.params;
    const context = request.params.context?.arguments ?? {};
    let completer: Completer | undefined;
    if (ref.type === 'ref/prompt') {
      const prompt = promptsByName.get(ref.name);
      if (!prompt) throw new InvalidCompletionRefError(`Unknown prompt: ${ref.name}`);
      completer = prompt.completer(argument.name);
    } else {
      const template = findTemplate(ref.uri);
      // A fixed resource URI has nothing to complete; that is not an error.
      if (!template && !findCatalogEntry(ref.uri))
        throw new InvalidCompletionRefError(`Unknown resource template: ${ref.uri}`);
      completer = template?.complete[argument.name];
    }
    return result(completer ? completer(argument.value, context) : []);
  });
}
