import type { z } from 'zod';

/**
 * How both sides say a setting is wrong. The relay's environment and the gadget's config
 * file are each one zod schema, parsed once at start; every problem becomes one sentence
 * that starts with the setting it names (`LEELOO_QUEUE_MAX_LENGTH must be …`,
 * `display.spi.speedHz must be …`), and the process exits 78 (EX_CONFIG) with them.
 */

export type ConfigErrorCode = 'config_missing' | 'config_unreadable' | 'config_invalid_json' | 'config_invalid';

export class ConfigError extends Error {
  readonly code: ConfigErrorCode;
  /** One sentence per bad setting, each starting with the setting's name. */
  readonly problems: readonly string[];
  constructor(code: ConfigErrorCode, message: string, problems: readonly string[] = []) {
    super(problems.length ? `${message}\n  - ${problems.join('\n  - ')}` : message);
    this.name = 'ConfigError';
    this.code = code;
    this.problems = problems;
  }
}

/** The exit code of a process refused its settings (sysexits.h EX_CONFIG): systemd and PM2 should not restart-loop on it. */
export const EXIT_CONFIG = 78;

const KINDS: Record<string, string> = {
  number: 'a number',
  int: 'a whole number',
  string: 'a string',
  boolean: 'true or false',
  object: 'an object',
  array: 'a list',
  null: 'null',
};

/** What a setting should be, for the issues no schema gave a sentence of its own. */
function describe(issue: z.core.$ZodRawIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return `${issue.input === undefined ? 'is missing: it ' : ''}must be ${KINDS[issue.expected] ?? issue.expected}`;
    case 'invalid_value':
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'too_small':
      return bound('at least', 'more than', issue.origin, issue.minimum, issue.inclusive);
    case 'too_big':
      return bound('at most', 'less than', issue.origin, issue.maximum, issue.inclusive);
    case 'invalid_format':
      return issue.format === 'regex' ? `must match ${issue.pattern ?? 'its pattern'}` : `must be a valid ${issue.format}`;
    default:
      return 'is invalid';
  }
}

function bound(inclusive: string, exclusive: string, origin: string, limit: number | bigint, isInclusive?: boolean): string {
  const relation = isInclusive === false ? exclusive : inclusive;
  if (origin === 'string') return Number(limit) === 1 && relation === inclusive ? 'must not be empty' : `must be ${relation} ${limit} characters long`;
  if (origin === 'array') return `must have ${relation} ${limit} items`;
  return `must be ${relation} ${limit}`;
}

/** The error map both sides parse settings with: a schema's own message wins, the rest read like `must be a whole number`. */
export const settingsErrorMap: z.core.$ZodErrorMap = (issue) => issue.message ?? describe(issue);

/**
 * Parses settings with one schema and returns the value, or throws ConfigError with one
 * sentence per bad setting. `name` turns an issue's path into the name a person types (a
 * variable, a dotted key).
 */
export function parseSettings<T extends z.ZodType>(schema: T, input: unknown, heading: string, name: (path: readonly PropertyKey[]) => string): z.output<T> {
  const result = schema.safeParse(input, { error: settingsErrorMap });
  if (result.success) return result.data;
  throw new ConfigError('config_invalid', heading, settingProblems(result.error, name));
}

/**
 * The sentences of a failed settings parse: the first problem of each setting (a value that
 * fails two checks is told the first), and one sentence per unknown key.
 */
export function settingProblems(error: z.ZodError, name: (path: readonly PropertyKey[]) => string): string[] {
  const bySetting = new Map<string, string>();
  for (const issue of error.issues) {
    const paths = issue.code === 'unrecognized_keys' ? issue.keys.map((key) => [...issue.path, key]) : [issue.path];
    for (const path of paths) {
      const where = name(path);
      if (bySetting.has(where)) continue;
      bySetting.set(where, `${where} ${issue.code === 'unrecognized_keys' ? 'is not a setting (misspelt, or from another version?)' : issue.message}`);
    }
  }
  return [...bySetting.values()];
}

/** `display.spi.speedHz`, `buttons.input.devices[0]`; the whole file is `config`. */
export function dottedPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return 'config';
  return path.map((part, i) => (typeof part === 'number' ? `[${part}]` : `${i ? '.' : ''}${String(part)}`)).join('');
}
