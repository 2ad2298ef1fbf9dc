/**
 * `ProcessExecutor`: each task in a child Node process in its own process group, stopped by
 * whole-tree kill. Under construction (issue 5); this package exports nothing usable yet.
 * @module
 */
export const PACKAGE_NAME = '@taskwarden/executor-process';
