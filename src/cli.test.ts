import { readFileSync } from 'node:fs';
import { CliUsageError, ENV_DESCRIPTIONS, helpText, parseCli } from './cli.js';
import { EnvSchema } from './config.js';

function usageError(argv: string[]): CliUsageError {
  try {
    parseCli(argv);
  } catch (err) {
    expect(err).toBeInstanceOf(CliUsageError);
    return err as CliUsageError;
  }
  throw new Error(`expected ${JSON.stringify(argv)} to be rejected`);
}

describe('parseCli', () => {
  it('defaults to HTTP', () => {
    expect(parseCli([])).toEqual({ transport: 'http', help: false });
  });

  it.each([
    [['--stdio'], 'stdio'],
    [['--http'], 'http'],
    [['--transport', 'stdio'], 'stdio'],
    [['--transport=http'], 'http'],
    [['--stdio', '--transport', 'stdio'], 'stdio'],
  ] as const)('%j selects %s', (argv, transport) => {
    expect(parseCli([...argv]).transport).toBe(transport);
  });

  it('recognises --help and -h', () => {
    expect(parseCli(['--help']).help).toBe(true);
    expect(parseCli(['-h', '--stdio'])).toEqual({ transport: 'stdio', help: true });
  });

  it('rejects an unknown flag with a message naming it', () => {
    const err = usageError(['--stido']);
    expect(err.code).toBe('unknown_flag');
    expect(err.message).toContain('--stido');
  });

  it('rejects positional arguments', () => {
    expect(usageError(['stdio']).code).toBe('unexpected_argument');
  });

  it('rejects an unsupported transport value', () => {
    const err = usageError(['--transport', 'sse']);
    expect(err.code).toBe('invalid_value');
    expect(err.message).toContain('sse');
  });

  it('rejects two different transports', () => {
    expect(usageError(['--stdio', '--http']).code).toBe('conflicting_flags');
  });
});

describe('helpText', () => {
  const text = helpText();

  it('documents every flag', () => {
    for (const flag of ['--http', '--stdio', '--transport', '--help', '-h']) expect(text).toContain(flag);
  });

  it('lists every environment variable of the config schema, each with a description', () => {
    const names = Object.keys(EnvSchema.shape);
    for (const name of names) expect(text).toMatch(new RegExp(`^  ${name} `, 'm'));
    // A new setting in src/config.ts needs a line in ENV_DESCRIPTIONS (and in docs/operations.md).
    expect(names.filter((n) => ENV_DESCRIPTIONS[n] === undefined)).toEqual([]);
  });

  it('shows defaults', () => {
    expect(text).toMatch(/PORT .*\[default: 3232\]/);
    expect(text).toMatch(/RATE_LIMIT_PER_USER .*\[default: 600\]/);
  });
});

describe('docs/operations.md', () => {
  it('has a settings-reference row for every environment variable of the config schema', () => {
    const doc = readFileSync(new URL('../docs/operations.md', import.meta.url), 'utf8');
    const missing = Object.keys(EnvSchema.shape).filter((name) => !doc.includes(`| \`${name}\` |`));
    expect(missing).toEqual([]);
  });
});
