/**
 * The fields of an os-release(5) file. Values may be quoted with " or ' and
 * use backslash escapes; both images and hostapps quote VERSION.
 */
export function parseOsRelease(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*?)\s*$/.exec(line);
    if (!match?.[1]) continue;
    let value = match[2] ?? '';
    const quote = value[0];
    if ((quote === '"' || quote === "'") && value.length >= 2 && value.endsWith(quote)) {
      value = value.slice(1, -1).replace(/\\(.)/g, '$1');
    }
    fields[match[1]] = value;
  }
  return fields;
}

/** VERSION from an os-release text, or undefined when it has none. */
export function osReleaseVersion(text: string): string | undefined {
  const version = parseOsRelease(text).VERSION;
  return version ? version : undefined;
}
