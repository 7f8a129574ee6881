import { Ajv, type ErrorObject } from 'ajv';
import { isMap, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import { ConfigError } from '../errors.ts';

/**
 * Parses YAML and validates it against a JSON Schema. Every error names the
 * file, the line and the field, and says what is allowed, e.g.
 * `boards/x.yaml:7: qemu.accel: must be one of auto, kvm, tcg (got "kvmm")`.
 */
export function loadValidatedYaml<T>(file: string, text: string, schema: object): T {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const syntax = doc.errors[0];
  if (syntax) {
    const line = syntax.linePos?.[0]?.line ?? lineCounter.linePos(syntax.pos[0]).line;
    throw new ConfigError(`${file}:${line}`, `YAML syntax error: ${syntax.message.split('\n')[0]}`);
  }
  const data: unknown = doc.toJS();
  const ajv = new Ajv({ allErrors: true, strict: false });
  const validate = ajv.compile(schema);
  if (validate(data)) return data as T;

  const messages = (validate.errors ?? []).filter(isReportable).map((error) => {
    const segments = error.instancePath.split('/').slice(1).map(unescapePointer);
    const field = [...segments, ...extraField(error)].join('.') || '(top level)';
    const node = nodeAt(doc.contents, [...segments, ...extraField(error)]) ?? nodeAt(doc.contents, segments);
    const line = node?.range ? lineCounter.linePos(node.range[0]).line : 1;
    return `${file}:${line}: ${field}: ${describe(error, valueAt(data, segments))}`;
  });
  throw new ConfigError(messages[0]?.split(': ')[0] ?? file, messages.map((m) => m.slice(m.indexOf(': ') + 2)).join('\n  '));
}

// `oneOf`/`anyOf` summaries repeat what their branches already said.
function isReportable(error: ErrorObject): boolean {
  return error.keyword !== 'oneOf' && error.keyword !== 'anyOf' && error.keyword !== 'if';
}

function extraField(error: ErrorObject): string[] {
  if (error.keyword === 'additionalProperties') return [String(error.params['additionalProperty'])];
  if (error.keyword === 'required') return [];
  return [];
}

function describe(error: ErrorObject, value: unknown): string {
  const got = value === undefined ? '' : ` (got ${JSON.stringify(value)})`;
  switch (error.keyword) {
    case 'enum':
      return `must be one of ${(error.params['allowedValues'] as unknown[]).join(', ')}${got}`;
    case 'const':
      return `must be ${JSON.stringify(error.params['allowedValue'])}${got}`;
    case 'additionalProperties':
      return `unknown field; allowed here: ${Object.keys(error.parentSchema?.['properties'] ?? {}).join(', ')}`;
    case 'required':
      return `missing required field "${String(error.params['missingProperty'])}"`;
    case 'type':
      return `must be ${String(error.params['type'])}${got}`;
    default:
      return `${error.message ?? 'is invalid'}${got}`;
  }
}

function unescapePointer(segment: string): string {
  return segment.replace(/~1/g, '/').replace(/~0/g, '~');
}

function nodeAt(node: unknown, segments: string[]): Node | undefined {
  let current = node;
  for (const segment of segments) {
    if (isMap(current)) {
      const pair = current.items.find((item) => String((item.key as { value?: unknown })?.value ?? item.key) === segment);
      current = segment === segments.at(-1) && pair && !pair.value ? pair.key : pair?.value;
    } else if (isSeq(current)) {
      current = current.items[Number(segment)];
    } else {
      return undefined;
    }
  }
  return current as Node | undefined;
}

function valueAt(data: unknown, segments: string[]): unknown {
  let current: unknown = data;
  for (const segment of segments) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[segment];
  }
  return current;
}
