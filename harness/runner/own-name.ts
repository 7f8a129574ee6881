import { register } from 'node:module';

/*
 * A suite kept in another repository imports `dutlab` and `dutlab/balena`
 * without dutlab installed next to it: those names resolve as they do inside
 * this package (its package.json exports), so every suite shares the running
 * harness's modules, not a second copy that an installed package would load.
 * Suite sources are ES modules whatever the package.json above them says:
 * loaded as CommonJS (a folder without "type": "module") they would reach
 * `dutlab` through require(), which these hooks do not see.
 */
const hooks = `
let parentURL;
export function initialize(data) { parentURL = data.parentURL; }
export async function resolve(specifier, context, next) {
  if (specifier === 'dutlab' || specifier.startsWith('dutlab/')) return next(specifier, { ...context, parentURL });
  const resolved = await next(specifier, context);
  if (resolved.url.endsWith('.ts') && !resolved.url.includes('/node_modules/') && resolved.format !== 'module') return { ...resolved, format: 'module' };
  return resolved;
}`;

let registered = false;

export function resolveOwnName(): void {
  if (registered) return;
  registered = true;
  register(`data:text/javascript,${encodeURIComponent(hooks)}`, { data: { parentURL: new URL('../../package.json', import.meta.url).href } });
}
