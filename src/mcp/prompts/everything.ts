/**
 * The classic "everything" prompts: no arguments, arguments with completions (one of which uses
 * the earlier argument as context), image content and an embedded resource.
 */
import { z } from 'zod';
import { ICONS, TINY_PNG_BASE64 } from '../assets.js';
import { STATIC_RESOURCE_COUNT, staticResourceContents } from '../resources/catalog.js';
import { completeStaticId, type Completer } from '../resources/templates.js';
import { definePrompt } from './registry.js';

const byPrefix = (values: readonly string[], typed: string) =>
  values.filter((v) => v.toLowerCase().startsWith(typed.toLowerCase()));

const TEMPERATURES = ['0', '0.2', '0.5', '0.7', '1.0', '1.5', '2.0'];
const SOBER_STYLES = ['formal', 'technical', 'precise', 'concise'];
const LIVELY_STYLES = ['casual', 'friendly', 'creative', 'playful'];

/** A low temperature asks for a sober style, a high one for a lively one (completion `context`). */
const completeStyle: Completer = (value, context) => {
  const t = Number(context.temperature);
  const styles =
    context.temperature === undefined || Number.isNaN(t)
      ? [...SOBER_STYLES, ...LIVELY_STYLES]
      : t < 0.7
        ? SOBER_STYLES
        : LIVELY_STYLES;
  return byPrefix(styles, value);
};

export const simplePrompt = definePrompt({
  name: 'simple_prompt',
  title: 'Simple prompt',
  description: 'A prompt without arguments.',
  icons: ICONS.prompt,
  args: z.object({}),
  get: () => ({
    messages: [{ role: 'user', content: { type: 'text', text: 'This is a simple prompt without arguments.' } }],
  }),
});

export const complexPrompt = definePrompt({
  name: 'complex_prompt',
  title: 'Complex prompt',
  description: 'A prompt with arguments (temperature, style) whose answer includes an image.',
  icons: ICONS.prompt,
  args: z.object({
    temperature: z
      .string()
      .regex(/^\d+(\.\d+)?$/, 'temperature must be a number')
      .describe('Temperature setting (0-2)'),
    style: z.string().optional().describe('Output style; completions depend on the temperature'),
  }),
  complete: {
    temperature: (value) => byPrefix(TEMPERATURES, value),
    style: completeStyle,
  },
  get: ({ temperature, style }) => ({
    description: `Complex prompt at temperature ${temperature}`,
    messages: [
      {
        role: 'user',
        content: {
          type: 'text',
          text: `This is a complex prompt with arguments: temperature=${temperature}, style=${style ?? 'unspecified'}`,
        },
      },
      {
        role: 'assistant',
        content: {
          type: 'text',
          text: "I understand. You've provided a complex prompt with temperature and style arguments. How would you like me to proceed?",
        },
      },
      { role: 'user', content: { type: 'image', data: TINY_PNG_BASE64, mimeType: 'image/png' } },
    ],
  }),
});

export const resourcePrompt = definePrompt({
  name: 'resource_prompt',
  title: 'Resource prompt',
  description: 'A prompt that embeds one of the static resources.',
  icons: ICONS.prompt,
  args: z.object({
    resourceId: z
      .string()
      .regex(/^\d+$/, 'resourceId must be an integer')
      .refine(
        (s) => Number(s) >= 1 && Number(s) <= STATIC_RESOURCE_COUNT,
        `resourceId must be 1-${STATIC_RESOURCE_COUNT}`,
      )
      .describe(`Resource id to embed (1-${STATIC_RESOURCE_COUNT})`),
  }),
  complete: { resourceId: completeStaticId },
  get: ({ resourceId }) => ({
    messages: [
      {
        role: 'user',
        content: {
          type: 'text',
          text: `This prompt includes Resource ${resourceId}. Please analyze the following resource:`,
        },
      },
      { role: 'user', content: { type: 'resource', resource: staticResourceContents(Number(resourceId))! } },
    ],
  }),
});

export const EVERYTHING_PROMPTS = [simplePrompt, complexPrompt, resourcePrompt];
