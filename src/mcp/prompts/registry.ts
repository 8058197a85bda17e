/**
 * prompts/list and prompts/get on the low-level Server, so prompts carry `icons` (2025-11-25) and
 * share one completion handler with resource templates (completions.ts). Arguments are declared
 * as a zod object of strings (prompt arguments are strings on the wire), which gives both the
 * published argument list and the validation of prompts/get. A prompt may need the client's
 * input before it can render: it returns `inputRequired(...)` (2026-07-28 multi-round-trip
 * requests; prompts/get is one of the three methods allowed to) and is re-entered with the
 * answers, which the SDK's legacy shim fetches as real server→client requests on a 2025 session.
 */
import type {
  GetPromptResult,
  InputRequiredResult,
  InputResponses,
  Prompt,
  Server,
} from '@modelcontextprotocol/server';
import { z } from 'zod';
import { InvalidPromptError } from '../errors.js';
import { paginate } from '../pagination.js';
import type { Completer } from '../resources/templates.js';

type StringArgs = z.ZodObject<Record<string, z.ZodString | z.ZodOptional<z.ZodString>>>;

export interface PromptSpec<A extends StringArgs> {
  name: string;
  title: string;
  description: string;
  icons?: Prompt['icons'];
  args: A;
  /** Completers per argument; `context` holds the arguments the user already filled in. */
  complete?: Partial<Record<keyof z.output<A> & string, Completer>>;
  /** `responses`: the client's answers to this prompt's earlier input requests, if any. */
  get(args: z.output<A>, responses: InputResponses | undefined): GetPromptResult | InputRequiredResult;
}

export interface RegisteredPrompt {
  definition: Prompt;
  completer(argument: string): Completer | undefined;
  get(rawArgs: Record<string, string> | undefined, responses?: InputResponses): GetPromptResult | InputRequiredResult;
}

export function definePrompt<A extends StringArgs>(spec: PromptSpec<A>): RegisteredPrompt {
  const args = Object.entries(spec.args.shape).map(([name, field]) => ({
    name,
    ...(field.description ? { description: field.description } : {}),
    required: !field.isOptional(),
  }));
  const completers = (spec.complete ?? {}) as Record<string, Completer | undefined>;
  return {
    definition: {
      name: spec.name,
      title: spec.title,
      description: spec.description,
      ...(args.length ? { arguments: args } : {}),
      ...(spec.icons ? { icons: spec.icons } : {}),
    },
    completer: (argument) => completers[argument],
    get(rawArgs, responses) {
      const parsed = spec.args.safeParse(rawArgs ?? {});
      if (!parsed.success) {
        throw new InvalidPromptError(`Invalid arguments for prompt ${spec.name}: ${z.prettifyError(parsed.error)}`);
      }
      return spec.get(parsed.data, responses);
    },
  };
}

export const PROMPT_PAGE_SIZE = 50;

// A 2026-07-28 request builds a server of its own, so the index is built once per prompt list, not per request.
const indexes = new WeakMap<readonly RegisteredPrompt[], Map<string, RegisteredPrompt>>();
function indexByName(prompts: readonly RegisteredPrompt[]): Map<string, RegisteredPrompt> {
  let index = indexes.get(prompts);
  if (!index) indexes.set(prompts, (index = new Map(prompts.map((p) => [p.definition.name, p]))));
  return index;
}

export function installPrompts(server: Server, prompts: readonly RegisteredPrompt[]): void {
  const byName = indexByName(prompts);
  // listChanged: the list is fixed, but test_trigger_prompt_change announces a change (conformance).
  server.registerCapabilities({ prompts: { listChanged: true } });

  server.setRequestHandler('prompts/list', async (request) => {
    const page = paginate('prompts', prompts, request.params?.cursor, PROMPT_PAGE_SIZE);
    return {
      prompts: page.items.map((p) => p.definition),
      ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
    };
  });

  server.setRequestHandler('prompts/get', async (request, sdk) => {
    const prompt = byName.get(request.params.name);
    if (!prompt) throw new InvalidPromptError(`Unknown prompt: ${request.params.name}`);
    return prompt.get(request.params.arguments, sdk.mcpReq.inputResponses as InputResponses | undefined);
  });
}
