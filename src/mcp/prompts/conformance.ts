/**
 * Fixture prompts named by the conformance suite's prompts-*, completion-complete and
 * input-required-result-non-tool-request scenarios.
 */
import { acceptedContent, inputRequired } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { TINY_PNG_BASE64 } from '../assets.js';
import { definePrompt } from './registry.js';

export const testSimplePrompt = definePrompt({
  name: 'test_simple_prompt',
  title: 'Test: simple prompt',
  description: 'A simple prompt without arguments.',
  args: z.object({}),
  get: () => ({
    messages: [{ role: 'user', content: { type: 'text', text: 'This is a simple prompt for testing.' } }],
  }),
});

const ARG1_SUGGESTIONS = ['test', 'testing', 'tested', 'paris', 'park', 'party'];

export const testPromptWithArguments = definePrompt({
  name: 'test_prompt_with_arguments',
  title: 'Test: prompt with arguments',
  description: 'A prompt with two required arguments.',
  args: z.object({
    arg1: z.string().describe('First test argument'),
    arg2: z.string().describe('Second test argument'),
  }),
  complete: {
    arg1: (value) => ARG1_SUGGESTIONS.filter((s) => s.startsWith(value)),
    // Context-aware: suggest values derived from what was chosen for arg1.
    arg2: (value, context) =>
      (context.arg1 ? [`${context.arg1}-a`, `${context.arg1}-b`] : ['a', 'b']).filter((s) => s.startsWith(value)),
  },
  get: ({ arg1, arg2 }) => ({
    messages: [
      { role: 'user', content: { type: 'text', text: `Prompt with arguments: arg1='${arg1}', arg2='${arg2}'` } },
    ],
  }),
});

export const testPromptWithEmbeddedResource = definePrompt({
  name: 'test_prompt_with_embedded_resource',
  title: 'Test: prompt with embedded resource',
  description: 'A prompt embedding the resource whose URI it is given.',
  args: z.object({ resourceUri: z.string().describe('URI of the resource to embed') }),
  get: ({ resourceUri }) => ({
    messages: [
      {
        role: 'user',
        content: {
          type: 'resource',
          resource: { uri: resourceUri, mimeType: 'text/plain', text: 'Embedded resource content for testing.' },
        },
      },
      { role: 'user', content: { type: 'text', text: 'Please process the embedded resource above.' } },
    ],
  }),
});

export const testPromptWithImage = definePrompt({
  name: 'test_prompt_with_image',
  title: 'Test: prompt with image',
  description: 'A prompt containing an image.',
  args: z.object({}),
  get: () => ({
    messages: [
      { role: 'user', content: { type: 'image', data: TINY_PNG_BASE64, mimeType: 'image/png' } },
      { role: 'user', content: { type: 'text', text: 'Please analyze the image above.' } },
    ],
  }),
});

/** A prompt that needs the user's input before it can render (multi-round-trip request, SEP-2322). */
export const testInputRequiredPrompt = definePrompt({
  name: 'test_input_required_result_prompt',
  title: 'Test: prompt asking for input',
  description: 'Asks the user (elicitation) which context to use, then renders a prompt with it.',
  args: z.object({}),
  get: (_args, responses) => {
    const context = acceptedContent(responses, 'user_context', z.looseObject({ context: z.string() }))?.context;
    if (context === undefined) {
      return inputRequired({
        inputRequests: {
          user_context: inputRequired.elicit({
            message: 'What context should the prompt use?',
            requestedSchema: { type: 'object', properties: { context: { type: 'string' } }, required: ['context'] },
          }),
        },
      });
    }
    return { messages: [{ role: 'user', content: { type: 'text', text: `Use the following context: ${context}` } }] };
  },
});

export const CONFORMANCE_PROMPTS = [
  testSimplePrompt,
  testPromptWithArguments,
  testPromptWithEmbeddedResource,
  testPromptWithImage,
  testInputRequiredPrompt,
];
