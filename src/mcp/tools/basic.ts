/**
 * The classic "everything" tools that need nothing from the client: text, arithmetic, every
 * content type (image, annotated, embedded resource, resource_link) and structured output.
 */
import { z } from 'zod';
import { ICONS, TINY_PNG_BASE64 } from '../assets.js';
import { STATIC_RESOURCE_COUNT, staticResourceContents, staticResourceUri } from '../resources/catalog.js';
import { defineTool, structuredResult } from './registry.js';

const PURE = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false };

export const echo = defineTool({
  name: 'echo',
  title: 'Echo',
  description: 'Echoes back the input message.',
  annotations: PURE,
  icons: ICONS.tool,
  input: z.object({ message: z.string().describe('Message to echo') }),
  run: async ({ message }) => ({ content: [{ type: 'text', text: `Echo: ${message}` }] }),
});

export const add = defineTool({
  name: 'add',
  title: 'Add',
  description: 'Adds two numbers.',
  annotations: PURE,
  icons: ICONS.tool,
  input: z.object({ a: z.number().describe('First number'), b: z.number().describe('Second number') }),
  run: async ({ a, b }) => ({ content: [{ type: 'text', text: `The sum of ${a} and ${b} is ${a + b}.` }] }),
});

export const getTinyImage = defineTool({
  name: 'getTinyImage',
  title: 'Get tiny image',
  description: 'Returns a small PNG image as image content.',
  annotations: PURE,
  icons: ICONS.tool,
  input: z.object({}),
  run: async () => ({
    content: [
      { type: 'text', text: 'This is a tiny image:' },
      { type: 'image', data: TINY_PNG_BASE64, mimeType: 'image/png' },
      { type: 'text', text: 'The image above is an 8x8 checkerboard.' },
    ],
  }),
});

export const annotatedMessage = defineTool({
  name: 'annotatedMessage',
  title: 'Annotated message',
  description: 'Returns content carrying audience and priority annotations, optionally with an image.',
  annotations: PURE,
  icons: ICONS.tool,
  input: z.object({
    messageType: z.enum(['error', 'success', 'debug']).describe('Type of message, which decides the annotations'),
    includeImage: z.boolean().default(false).describe('Also return an annotated image'),
  }),
  run: async ({ messageType, includeImage }) => {
    // Errors matter to both audiences; debug output is for the user only (server/resources §Annotations).
    const annotations = {
      error: { priority: 1.0, audience: ['user', 'assistant'] as ('user' | 'assistant')[] },
      success: { priority: 0.7, audience: ['user'] as ('user' | 'assistant')[] },
      debug: { priority: 0.3, audience: ['assistant'] as ('user' | 'assistant')[] },
    }[messageType];
    const text = {
      error: 'Error: Operation failed',
      success: 'Operation completed successfully',
      debug: 'Debug: Cache hit ratio 0.95, latency 150ms',
    }[messageType];
    return {
      content: [
        { type: 'text', text, annotations },
        ...(includeImage
          ? [
              {
                type: 'image' as const,
                data: TINY_PNG_BASE64,
                mimeType: 'image/png',
                annotations: { priority: 0.5, audience: ['user' as const] },
              },
            ]
          : []),
      ],
    };
  },
});

const resourceId = z
  .number()
  .int()
  .min(1)
  .max(STATIC_RESOURCE_COUNT)
  .describe(`Id of the static resource (1-${STATIC_RESOURCE_COUNT})`);

export const getResourceReference = defineTool({
  name: 'getResourceReference',
  title: 'Get resource reference',
  description: 'Returns a static resource as embedded resource content.',
  annotations: PURE,
  icons: ICONS.tool,
  input: z.object({ resourceId }),
  run: async ({ resourceId: id }) => ({
    content: [
      { type: 'text', text: `Returning resource ${id}:` },
      { type: 'resource', resource: staticResourceContents(id)! },
      { type: 'text', text: `You can read it again with resources/read and uri ${staticResourceUri(id)}.` },
    ],
  }),
});

export const getResourceLinks = defineTool({
  name: 'getResourceLinks',
  title: 'Get resource links',
  description: 'Returns resource_link content pointing at static resources, for the client to read later.',
  annotations: PURE,
  icons: ICONS.tool,
  input: z.object({ count: z.number().int().min(1).max(10).default(3).describe('How many links (1-10)') }),
  run: async ({ count }) => ({
    content: [
      { type: 'text', text: `Here are ${count} resource links:` },
      ...Array.from({ length: count }, (_, i) => {
        const n = i + 1;
        return {
          type: 'resource_link' as const,
          uri: staticResourceUri(n),
          name: `resource-${n}`,
          description: `Static resource ${n} (${n % 2 === 1 ? 'plaintext' : 'binary'})`,
          mimeType: n % 2 === 1 ? 'text/plain' : 'application/octet-stream',
        };
      }),
    ],
  }),
});

const Weather = z.object({
  city: z.string(),
  temperatureC: z.number().describe('Temperature in degrees Celsius'),
  conditions: z.enum(['sunny', 'cloudy', 'rainy', 'snowy']),
  humidityPercent: z.number().int().min(0).max(100),
});

/** Deterministic fake weather: the same city always gets the same report on every instance. */
function fakeWeather(city: string): z.infer<typeof Weather> {
  let h = 0;
  for (const ch of city.toLowerCase()) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  const conditions = (['sunny', 'cloudy', 'rainy', 'snowy'] as const)[h % 4]!;
  return { city, temperatureC: (h % 40) - 5, conditions, humidityPercent: h % 101 };
}

export const getWeather = defineTool({
  name: 'getWeather',
  title: 'Get weather (structured output)',
  description:
    'Returns a (made-up, deterministic) weather report as structuredContent matching the outputSchema, plus the same JSON as text.',
  annotations: PURE,
  icons: ICONS.tool,
  input: z.object({ city: z.string().min(1).describe('City name') }),
  output: Weather,
  run: async ({ city }) => structuredResult(fakeWeather(city)),
});

export const BASIC_TOOLS = [
  echo,
  add,
  getTinyImage,
  annotatedMessage,
  getResourceReference,
  getResourceLinks,
  getWeather,
];
