/** Public surface of board loading. */
export { BoardConfigError, type BoardIssue } from './diagnostics.ts';
export { DEFAULT_BOARDS_DIR, listBoards, loadBoard, parseBoard } from './load.ts';
export * from './types.ts';
