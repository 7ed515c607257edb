/** Type-level assertions: a failing one is a compile error under `tsc --noEmit`. */

/** true when A and B are the same type (not merely assignable either way). */
export type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

/** Compiles only when given `true`. */
export function assertType<T extends true>(..._proof: T extends true ? [] : [never]): void {}
