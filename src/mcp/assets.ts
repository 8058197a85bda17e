/**
 * Small binary fixtures used by tools, resources and prompts: an 8x8 PNG and a short WAV tone.
 */

/** 8x8 checkerboard PNG (84 bytes). */
export const TINY_PNG_BASE64 =
  'iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAIAAABLbSncAAAAG0lEQVR4nGPwd3v6//9/TJIBq6i/21OGQakDAMDBjuGIEi+bAAAAAElFTkSuQmCC';

/** A 50 ms, 8 kHz, 8-bit mono 440 Hz tone as a RIFF/WAVE file (RFC 2361 audio/wav). */
export const TINY_WAV_BASE64 = buildWav().toString('base64');

function buildWav(): Buffer {
  const sampleRate = 8000;
  const samples = 400;
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'ascii');
  header.writeUInt32LE(36 + samples, 4);
  header.write('WAVE', 8, 'ascii');
  header.write('fmt ', 12, 'ascii');
  header.writeUInt32LE(16, 16); // PCM fmt chunk size
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(1, 22); // mono
  header.writeUInt32LE(sampleRate, 24);
  header.writeUInt32LE(sampleRate, 28); // byte rate = rate * channels * bytes/sample
  header.writeUInt16LE(1, 32); // block align
  header.writeUInt16LE(8, 34); // bits per sample
  header.write('data', 36, 'ascii');
  header.writeUInt32LE(samples, 40);
  const data = Buffer.alloc(samples);
  for (let i = 0; i < samples; i++) data[i] = 128 + Math.round(60 * Math.sin((2 * Math.PI * 440 * i) / sampleRate));
  return Buffer.concat([header, data]);
}

/** Icons (MCP 2025-11-25 `icons`, SEP-973) as data: URIs so no client fetches anything from us. */
function svgIcon(body: string) {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24">${body}</svg>`;
  return [
    {
      src: `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`,
      mimeType: 'image/svg+xml',
      sizes: ['any'],
    },
  ];
}

export const ICONS = {
  tool: svgIcon('<path d="M14 3l7 7-4 4-7-7z" fill="#4f46e5"/><path d="M3 21l8-8" stroke="#4f46e5" stroke-width="2"/>'),
  resource: svgIcon('<rect x="4" y="3" width="16" height="18" rx="2" fill="#0ea5e9"/>'),
  prompt: svgIcon('<path d="M3 4h18v12H8l-5 4z" fill="#10b981"/>'),
  server: svgIcon('<circle cx="12" cy="12" r="9" fill="#f59e0b"/>'),
};
