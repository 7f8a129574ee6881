import type { ValidateFunction } from 'ajv';
import { LineCounter, parseDocument } from 'yaml';
import { ConfigFileError, Locator, issuesFrom } from './diagnostics.ts';

/**
 * Parses YAML and validates it with a compiled JSON Schema. Every failure is a
 * ConfigFileError whose message starts `file:line: field:` and says what is
 * allowed; `patternHints` word `pattern` failures for people.
 */
export function parseValidatedYaml<T>(
  text: string,
  source: string,
  validate: ValidateFunction,
  what: string,
  patternHints: Record<string, string> = {},
): T {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigFileError(
      source,
      doc.errors.map((e) => ({
        line: e.linePos?.[0].line ?? 1,
        field: '(yaml)',
        message: `YAML syntax error: ${e.message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '')}`,
      })),
    );
  }
  const data: unknown = doc.toJS();
  if (data === null || data === undefined) {
    throw new ConfigFileError(source, [{ line: 1, field: '(file)', message: `${what} is empty` }]);
  }
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw new ConfigFileError(source, [{ line: 1, field: '(file)', message: `${what} must be a mapping of keys` }]);
  }
  if (!validate(data)) {
    throw new ConfigFileError(source, issuesFrom(validate.errors ?? [], new Locator(doc, lineCounter), patternHints));
  }
  return data as T;
}
