export type * from './events.ts';
export { Reporter, REPORT_FILES, unfinishedBy, type ReporterOptions, type RunEvents } from './reporter.ts';
export { SuiteSequencer } from './suite-sequencer.ts';
export { TapWriter, type TapSink } from './tap-writer.ts';
export { readTap, type TapRun, type TapSuite, type TapCase, type CaseStatus } from './tap-read.ts';
export { tapToJUnit, runToJUnit, outputKey, type JUnitOptions, type TestOutput } from './junit.ts';
export { buildSummary, countResults, type RunSummary, type SuiteSummary, type TestSummary, type Counts } from './summary.ts';
export { exitCodeFor, EXIT_PASSED, EXIT_FAILED, EXIT_ERROR, type ExitCode, type Outcome } from './exit-code.ts';
