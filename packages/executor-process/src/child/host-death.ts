/**
 * Entry point of `dist/child/host-death.cjs` (made by the package's build): the tree kill a child
 * runs when its host is gone (`killOwnTree`). A bundle of its own, loaded by `load-host-death.ts`
 * only then, so that it and the SDK modules it needs are not on a fresh child's start-up path.
 * @internal
 * @module
 */
export { killOwnTree } from '@taskwarden/sdk/internal';
