/** Public surface of board loading. */
export { ConfigFileError, type ConfigIssue } from '../config/diagnostics.ts';
export { DEFAULT_BOARDS_DIR, listBoards, loadBoard, parseBoard } from './load.ts';
export * from './types.ts';
