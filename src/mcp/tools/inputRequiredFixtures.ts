/**
 * Multi-round-trip fixture tools named by the conformance suite's `input-required-result-*`
 * scenarios (SEP-2322, 2026-07-28; @modelcontextprotocol/conformance 0.2.0-alpha.12). Each is
 * written once, in the re-entrant style: every entry reads what the client already answered (and
 * the verified `requestState`), and asks only for what is still missing. On a 2025 session the
 * SDK's legacy shim serves the same code with real server→client requests.
 *
 * The state these tools mint is sealed by the server (src/mcp/requestState.ts): bound to the
 * caller and the method, short-lived, verified by the SDK before the tool runs, and valid on every
 * instance, so each round may land anywhere. It carries the tool's name, checked on re-entry, so
 * state minted by one tool means nothing to another.
 */
import { randomUUID } from 'node:crypto';
import {
  acceptedContent,
  inputRequired,
  inputResponse,
  type InputRequests,
  type InputResponses,
} from '@modelcontextprotocol/server';
import { z } from 'zod';
import { clientCapabilities } from './clientRequests.js';
import { defineTool, type ToolCall } from './registry.js';

const ASKS = { readOnlyHint: true, destructiveHint: false, idempotentHint: false, openWorldHint: true };
const noArgs = z.object({});
const text = (t: string) => ({ content: [{ type: 'text' as const, text: t }] });

/** A form with one required field. */
function objectSchema<T extends 'string' | 'boolean'>(field: string, type: T) {
  return { type: 'object' as const, properties: { [field]: { type } }, required: [field] };
}

const NAME = z.looseObject({ name: z.string() });
const askName = (message = 'What is your name?') =>
  inputRequired.elicit({ message, requestedSchema: objectSchema('name', 'string') });

/** The answers of this round (the SDK has already dropped malformed ones). */
const responses = (call: ToolCall) => call.sdk.mcpReq.inputResponses as InputResponses | undefined;

interface ToolState {
  tool: string;
  round?: number;
  name?: string;
  nonce: string;
}

/** The verified state of this round, if it was minted by `tool`. */
function stateOf(call: ToolCall, tool: string): ToolState | undefined {
  const state = call.sdk.mcpReq.requestState<ToolState>();
  return typeof state === 'object' && state !== null && state.tool === tool ? state : undefined;
}

async function askWithState(call: ToolCall, inputRequests: InputRequests, state: Omit<ToolState, 'nonce'>) {
  return inputRequired({ inputRequests, requestState: await call.mintState({ ...state, nonce: randomUUID() }) });
}

export const inputRequiredElicitation = defineTool({
  name: 'test_input_required_result_elicitation',
  title: 'Test: input required (elicitation)',
  description: 'Asks for your name in-band (elicitation), then greets you.',
  annotations: ASKS,
  input: noArgs,
  run: async (_args, call) => {
    const name = acceptedContent(responses(call), 'user_name', NAME)?.name;
    // Missing, wrong or malformed answers are asked for again rather than refused (SEP-2322 SHOULD).
    if (name === undefined) return inputRequired({ inputRequests: { user_name: askName() } });
    return text(`Hello, ${name}!`);
  },
});

export const inputRequiredSampling = defineTool({
  name: 'test_input_required_result_sampling',
  title: 'Test: input required (sampling)',
  description: "Asks the client's LLM a question in-band (sampling), then returns its answer.",
  annotations: ASKS,
  input: noArgs,
  run: async (_args, call) => {
    const answer = inputResponse(responses(call), 'capital_question');
    if (answer.kind !== 'sampling') {
      return inputRequired({
        inputRequests: {
          capital_question: inputRequired.createMessage({
            messages: [{ role: 'user', content: { type: 'text', text: 'What is the capital of France?' } }],
            maxTokens: 100,
          }),
        },
      });
    }
    const content = Array.isArray(answer.result.content) ? answer.result.content[0] : answer.result.content;
    return text(`The model said: ${content?.type === 'text' ? content.text : `[${content?.type ?? 'nothing'}]`}`);
  },
});

export const inputRequiredListRoots = defineTool({
  name: 'test_input_required_result_list_roots',
  title: 'Test: input required (roots)',
  description: "Asks for the client's roots in-band (roots/list), then lists them.",
  annotations: ASKS,
  input: noArgs,
  run: async (_args, call) => {
    const roots = inputResponse(responses(call), 'client_roots');
    if (roots.kind !== 'roots') return inputRequired({ inputRequests: { client_roots: inputRequired.listRoots() } });
    return text(`Client roots: ${roots.roots.map((r) => r.uri).join(', ') || '(none)'}`);
  },
});

export const inputRequiredRequestState = defineTool({
  name: 'test_input_required_result_request_state',
  title: 'Test: input required with state',
  description: 'Asks for a confirmation and sends sealed requestState along; the retry must echo it.',
  annotations: ASKS,
  input: noArgs,
  run: async (_args, call) => {
    const ok = acceptedContent(responses(call), 'confirm', z.looseObject({ ok: z.boolean() }));
    if (stateOf(call, 'request_state') && ok !== undefined)
      return text(`state-ok: requestState verified, confirmation ${ok.ok ? 'given' : 'refused'}`);
    return askWithState(
      call,
      { confirm: inputRequired.elicit({ message: 'Please confirm', requestedSchema: objectSchema('ok', 'boolean') }) },
      { tool: 'request_state' },
    );
  },
});

export const inputRequiredMultipleInputs = defineTool({
  name: 'test_input_required_result_multiple_inputs',
  title: 'Test: several inputs at once',
  description: 'Asks for a name (elicitation), a greeting (sampling) and the roots at once, with sealed state.',
  annotations: ASKS,
  input: noArgs,
  run: async (_args, call) => {
    const r = responses(call);
    const name = acceptedContent(r, 'user_name', NAME)?.name;
    const greeting = inputResponse(r, 'greeting');
    const roots = inputResponse(r, 'client_roots');
    if (
      stateOf(call, 'multiple_inputs') &&
      name !== undefined &&
      greeting.kind === 'sampling' &&
      roots.kind === 'roots'
    ) {
      return text(
        `All inputs received: name ${name}, ${roots.roots.length} root(s), a greeting from ${greeting.result.model}`,
      );
    }
    return askWithState(
      call,
      {
        user_name: askName(),
        greeting: inputRequired.createMessage({
          messages: [{ role: 'user', content: { type: 'text', text: 'Generate a greeting' } }],
          maxTokens: 50,
        }),
        client_roots: inputRequired.listRoots(),
      },
      { tool: 'multiple_inputs' },
    );
  },
});

export const inputRequiredMultiRound = defineTool({
  name: 'test_input_required_result_multi_round',
  title: 'Test: two rounds of input',
  description: 'Asks for a name, then (with the name carried in sealed state) a favourite colour, then answers.',
  annotations: ASKS,
  input: noArgs,
  run: async (_args, call) => {
    const state = stateOf(call, 'multi_round');
    const r = responses(call);
    if (state?.round === 2 && state.name !== undefined) {
      const color = acceptedContent(r, 'step2', z.looseObject({ color: z.string() }))?.color;
      if (color !== undefined) return text(`${state.name} likes ${color}`);
    }
    const name = state?.round === 1 ? acceptedContent(r, 'step1', NAME)?.name : state?.name;
    if (name === undefined)
      return askWithState(call, { step1: askName('Step 1: What is your name?') }, { tool: 'multi_round', round: 1 });
    const step2 = inputRequired.elicit({
      message: 'Step 2: What is your favorite color?',
      requestedSchema: objectSchema('color', 'string'),
    });
    return askWithState(call, { step2 }, { tool: 'multi_round', round: 2, name });
  },
});

export const inputRequiredTamperedState = defineTool({
  name: 'test_input_required_result_tampered_state',
  title: 'Test: sealed state',
  description: 'Sends sealed requestState; a retry with altered state is refused (-32602) before this tool runs.',
  annotations: ASKS,
  input: noArgs,
  run: async (_args, call) => {
    const ok = acceptedContent(responses(call), 'confirm', z.looseObject({ ok: z.boolean() }));
    if (stateOf(call, 'tampered_state') && ok !== undefined) return text('integrity-ok: requestState verified');
    return askWithState(
      call,
      { confirm: inputRequired.elicit({ message: 'Please confirm', requestedSchema: objectSchema('ok', 'boolean') }) },
      { tool: 'tampered_state' },
    );
  },
});

export const inputRequiredCapabilities = defineTool({
  name: 'test_input_required_result_capabilities',
  title: 'Test: capability-aware input',
  description: 'Asks only for the kinds of input the client declared it can give (elicitation, sampling, roots).',
  annotations: ASKS,
  input: noArgs,
  run: async (_args, call) => {
    if (responses(call) !== undefined) return text('Capability-aware input requests fulfilled');
    const caps = clientCapabilities(call);
    const inputRequests: InputRequests = {};
    if (caps.elicitation !== undefined) inputRequests['user_name'] = askName();
    if (caps.sampling !== undefined) {
      inputRequests['greeting'] = inputRequired.createMessage({
        messages: [{ role: 'user', content: { type: 'text', text: 'Generate a short greeting' } }],
        maxTokens: 50,
      });
    }
    if (caps.roots !== undefined) inputRequests['client_roots'] = inputRequired.listRoots();
    if (Object.keys(inputRequests).length === 0)
      return text('The client declared no capability that could answer an input request');
    return inputRequired({ inputRequests });
  },
});

export const INPUT_REQUIRED_FIXTURES = [
  inputRequiredElicitation,
  inputRequiredSampling,
  inputRequiredListRoots,
  inputRequiredRequestState,
  inputRequiredMultipleInputs,
  inputRequiredMultiRound,
  inputRequiredTamperedState,
  inputRequiredCapabilities,
];
