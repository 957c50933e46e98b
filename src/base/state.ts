/** The save/restore contract: every stateful component returns named, versioned plain data. */

/** Plain data: JSON-compatible values plus typed-array snapshots (copied, never aliased). */
export type StateValue =
  | number
  | string
  | boolean
  | null
  | Uint8Array
  | Int32Array
  | Uint32Array
  | Float64Array
  | StateValue[]
  | { [key: string]: StateValue };

/** A component's saved state: its kind, a format version, and named fields. */
export interface SavedState {
  kind: string;
  version: number;
  [field: string]: StateValue;
}

/** Implemented by every stateful component (hart, device, backend). */
export interface Stateful {
  save(): SavedState;
  restore(state: SavedState): void;
}

/** Check a saved state's kind and version before restoring it; throws a clear error otherwise. */
export function checkState(state: SavedState, kind: string, version: number): void {
  if (state.kind !== kind) throw new Error(`cannot restore ${kind} from saved ${state.kind}`);
  if (state.version !== version) throw new Error(`cannot restore ${kind} v${version} from v${state.version}`);
}
