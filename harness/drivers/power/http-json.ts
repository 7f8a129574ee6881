/**
 * One HTTP GET to a smart plug's local API, answered with JSON. Any answer
 * that is not a 2xx with JSON is an error quoting the start of the body,
 * which is where the plug says what it did not like.
 */
export async function getJson(url: string, signal: AbortSignal): Promise<unknown> {
  const response = await fetch(url, { signal });
  const body = await response.text();
  if (!response.ok) throw new Error(`GET ${url} answered HTTP ${response.status}: ${excerpt(body)}`);
  try {
    return JSON.parse(body) as unknown;
  } catch {
    throw new Error(`GET ${url} answered something that is not JSON: ${excerpt(body)}`);
  }
}

function excerpt(body: string): string {
  const flat = body.replace(/\s+/g, ' ').trim();
  return flat.length > 200 ? `${flat.slice(0, 200)}...` : flat || '(empty body)';
}
