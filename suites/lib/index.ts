/**
 * The balenaOS helpers the suites share, importable by a suite elsewhere as
 * `dutlab/balena`: only balenaOS interfaces (paths, labels, balena-engine).
 */
export * from './device.ts';
export * from './engine.ts';
export * from './hup.ts';
export * from './config-json.ts';
export * from './journal.ts';
