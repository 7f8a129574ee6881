/**
 * Turn ajv errors into messages a person can act on without opening the
 * schema: `file:line: field: what is wrong (what is allowed, what was given)`.
 *
 * The line comes from the YAML node the error is about: we parse with
 * `parseDocument` + `LineCounter`, which keeps source ranges on every node,
 * and walk the document along ajv's `instancePath`. For an unknown key we
 * point at the key itself; for a missing key at the mapping that lacks it.
 */
import type { ErrorObject } from 'ajv';
import { isMap, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';
import { ConfigError } from '../errors.ts';

export interface ConfigIssue {
  /** 1-based line in the file. */
  line: number;
  /** Dotted field path, e.g. `qemu.accel`, `power.on[0]`; `(file)` for the whole file. */
  field: string;
  message: string;
}

/** A YAML config file (board, recipe, run config) failed to parse or validate; `issues` lists every problem. */
export class ConfigFileError extends ConfigError {
  readonly file: string;
  readonly issues: ConfigIssue[];
  constructor(file: string, issues: ConfigIssue[]) {
    const [first, ...rest] = issues;
    const where = first ? `${file}:${first.line}` : file;
    const lines = rest.map((i) => `\n  ${file}:${i.line}: ${i.field}: ${i.message}`);
    super(where, first ? `${first.field}: ${first.message}${lines.join('')}` : 'invalid config file');
    this.name = 'ConfigFileError';
    this.file = file;
    this.issues = issues;
  }
}

function pointerToSegments(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function fieldName(segments: readonly string[]): string {
  let out = '';
  for (const s of segments) out += /^\d+$/.test(s) ? `[${s}]` : out ? `.${s}` : s;
  return out || '(file)';
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `"${value}"`;
  return String(value);
}

function describeTyped(value: unknown): string {
  if (typeof value === 'string') return `string "${value}"`;
  if (typeof value === 'number') return `${Number.isInteger(value) ? 'integer' : 'number'} ${value}`;
  if (typeof value === 'boolean') return `boolean ${value}`;
  return describe(value);
}

/** Child node of a map/seq by key or index. */
function child(node: unknown, key: string): unknown {
  if (isMap(node)) return node.get(key, true);
  if (isSeq(node)) return node.get(Number(key), true);
  return undefined;
}

/** Key node of `key` in a map (to point at an unknown key's own line). */
function keyNode(node: unknown, key: string): Node | undefined {
  if (!isMap(node)) return undefined;
  for (const pair of node.items) {
    if (isScalar(pair.key) && String(pair.key.value) === key) return pair.key;
  }
  return undefined;
}

export class Locator {
  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  lineOf(node: Node | undefined | null): number {
    const offset = node?.range?.[0];
    return offset === undefined ? 1 : this.lines.linePos(offset).line;
  }

  /** Deepest existing node along `segments` (errors may name absent children). */
  nodeAt(segments: readonly string[]): Node | undefined {
    let node: unknown = this.doc.contents;
    let found = node as Node | undefined;
    for (const s of segments) {
      node = child(node, s);
      if (!node) break;
      found = node as Node;
    }
    return found;
  }

  keyLine(segments: readonly string[], key: string): number {
    const parent = this.nodeAt(segments);
    return this.lineOf(keyNode(parent, key) ?? parent);
  }
}

/** One ajv error → one issue. Returns undefined for errors that only echo others. */
export function toIssue(error: ErrorObject, at: Locator, patternHints: Record<string, string> = {}): ConfigIssue | undefined {
  const segments = pointerToSegments(error.instancePath);
  const field = fieldName(segments);
  const line = at.lineOf(at.nodeAt(segments));
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'additionalProperty':
    case 'additionalProperties': {
      const key = String(params.additionalProperty);
      const allowed = Object.keys((error.parentSchema?.properties as object | undefined) ?? {});
      return {
        line: at.keyLine(segments, key),
        field: fieldName([...segments, key]),
        message: `unknown key${allowed.length ? ` (allowed: ${allowed.join(', ')})` : ''}`,
      };
    }
    case 'required': {
      const key = String(params.missingProperty);
      return { line, field: fieldName([...segments, key]), message: 'required field is missing' };
    }
    case 'enum': {
      const allowed = (params.allowedValues as unknown[]).map(String);
      const wording = allowed.length === 1 ? `must be ${allowed[0]}` : `must be one of ${allowed.join(', ')}`;
      return { line, field, message: `${wording} (got ${describe(error.data)})` };
    }
    case 'type':
      return { line, field, message: `must be ${article(String(params.type))} (got ${describeTyped(error.data)})` };
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return { line, field, message: `must be ${String(params.comparison)} ${String(params.limit)} (got ${describe(error.data)})` };
    case 'minLength':
      return { line, field, message: `must not be empty (got ${describe(error.data)})` };
    case 'minProperties':
    case 'maxProperties': {
      const keys = Object.keys((error.parentSchema?.properties as object | undefined) ?? {});
      const which = keys.length ? ` of: ${keys.join(', ')}` : ' key(s)';
      const bound = error.keyword === 'minProperties' ? 'needs at least' : 'takes at most';
      return { line, field, message: `${bound} ${String(params.limit)}${which}` };
    }
    case 'minItems':
      return { line, field, message: `needs at least ${String(params.limit)} item(s)` };
    case 'pattern': {
      const hint = patternHints[String(params.pattern)] ?? `must match ${String(params.pattern)}`;
      return { line, field, message: `${hint} (got ${describe(error.data)})` };
    }
    case 'discriminator': {
      const tag = String(params.tag);
      if (params.error === 'mapping') {
        const allowed = kindsOf(error.parentSchema);
        return {
          line: at.lineOf(at.nodeAt([...segments, tag])),
          field: fieldName([...segments, tag]),
          message: `must be one of ${allowed.join(', ')} (got ${describe(params.tagValue)})`,
        };
      }
      // A missing tag is already reported by `required`; only a non-string tag is new.
      if (error.data === null || typeof error.data !== 'object' || !(tag in error.data)) return undefined;
      return {
        line: at.lineOf(at.nodeAt([...segments, tag])),
        field: fieldName([...segments, tag]),
        message: `must be a string naming the kind (one of ${kindsOf(error.parentSchema).join(', ')})`,
      };
    }
    case 'oneOf':
      // With a discriminator, the branch's own errors are already reported.
      return undefined;
    default:
      return { line, field, message: error.message ?? `fails ${error.keyword}` };
  }
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

function kindsOf(schema: unknown): string[] {
  const branches = (schema as { oneOf?: { properties?: { kind?: { enum?: string[] } } }[] } | undefined)?.oneOf ?? [];
  return branches.flatMap((b) => b.properties?.kind?.enum ?? []);
}

export function issuesFrom(errors: readonly ErrorObject[], at: Locator, patternHints: Record<string, string> = {}): ConfigIssue[] {
  const seen = new Set<string>();
  const issues: ConfigIssue[] = [];
  for (const error of errors) {
    const issue = toIssue(error, at, patternHints);
    if (!issue) continue;
    const key = `${issue.line}|${issue.field}|${issue.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    issues.push(issue);
  }
  return issues.sort((a, b) => a.line - b.line);
}
