import type { ModuleReference } from '../interfaces/invokable.js';

// Its own file: every worker and child imports it, and the descriptor module loads node:crypto.
/** True for `{ module, export? }`. @internal */
export function isModuleReference(value: unknown): value is ModuleReference {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { module?: unknown }).module === 'string' &&
    typeof (value as { invoke?: unknown }).invoke !== 'function'
  );
}
