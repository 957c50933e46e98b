/**
 * The part of the WebAssembly JS API (https://webassembly.github.io/spec/js-api/) that tvisor uses. The
 * project compiles against lib ES2022 without DOM, whose typings are where TypeScript keeps this API;
 * Node and browsers both provide it at run time.
 */
declare namespace WebAssembly {
  interface MemoryDescriptor {
    initial: number;
    maximum?: number;
    shared?: boolean;
  }
  class Memory {
    constructor(descriptor: MemoryDescriptor);
    readonly buffer: ArrayBuffer;
    grow(delta: number): number;
  }
  interface TableDescriptor {
    element: "anyfunc";
    initial: number;
    maximum?: number;
  }
  class Table {
    constructor(descriptor: TableDescriptor);
    readonly length: number;
    grow(delta: number): number;
    get(index: number): unknown;
    set(index: number, value: unknown): void;
  }
  class Module {
    constructor(bytes: Uint8Array);
  }
  type ImportValue =
    | ((...args: number[]) => number | undefined)
    | ((...args: never[]) => unknown)
    | Memory
    | Table;
  type Imports = Record<string, Record<string, ImportValue>>;
  class Instance {
    constructor(module: Module, imports?: Imports);
    readonly exports: Record<string, unknown>;
  }
  function validate(bytes: Uint8Array): boolean;
  class CompileError extends Error {}
  class RuntimeError extends Error {}
}
