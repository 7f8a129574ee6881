/**
 * What a suite imports as `dutlab`: the suite and test definitions and the
 * types a test author writes against. The suites in suites/ import it the
 * same way as a suite in another repository does, so this is the whole
 * contract; anything else in harness/ may change without notice.
 */
export { acrossReboot, defineSuite, defineTests } from './runner/types.ts';
export type { Feature, HostHttp, HostPeer, PlainTest, RebootTest, Requirements, RunImages, SuiteDefinition, TestContext, TestDefinition, TestDut, WaitOptions } from './runner/types.ts';
export type { ExecResult, RebootOptions } from './dut/dut.ts';
export { CommandError, DutError, type DutErrorKind } from './errors.ts';
