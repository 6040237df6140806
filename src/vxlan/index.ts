// The overlay dataplane area: what the worker uses to program the kernel. Other areas import
// only from here.
export type * from './dataplane-spec.js';
export { DataplaneDriver } from './dataplane-driver.js';
export type { CounterValue, DataplaneDriverOptions, PlannedPass, ReconcileOptions } from './dataplane-driver.js';
export { KernelReadError } from './kernel-reader.js';
export type { DataplaneSnapshot, LinkSnapshot } from './kernel-snapshot.js';
export type { CommandRunner, CommandScope, KernelCommand, KernelCommandResult, KernelTool } from './command-runner.js';
export { ProcessCommandRunner } from './command-runner-process.js';
export type { ProcessCommandRunnerOptions } from './command-runner-process.js';
export { FakeCommandRunner } from './command-runner-fake.js';
export type { FakeCommandRunnerOptions } from './command-runner-fake.js';
export { FakeKernel } from './fake-kernel.js';
export { chooseOverlayMtu, underlayMtuOf, VXLAN_OVERHEAD } from './overlay-mtu.js';
export type { OverlayMtuInputs, PathMtuProbe } from './overlay-mtu.js';
export { overlayNamespaceName, overlayNamespacePrefix, NFT_TABLE, NFT_COUNTER_DROPPED } from './dataplane-names.js';
export { validateDataplaneSpec } from './spec-validation.js';
export type { DataplanePlan, PlanStage, PlanStageName, CommandBatch } from './dataplane-plan.js';
