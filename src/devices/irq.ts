/** Interrupt wiring: devices raise level-triggered lines; interrupt controllers drive hart interrupt bits. */

/** A level-triggered interrupt line from a device to an interrupt controller (PLIC source). */
export interface IrqLine {
  set(level: boolean): void;
}

/**
 * What an interrupt controller drives on a hart: bits of the `mip` CSR (MSIP=3, SSIP=1, MTIP=7,
 * STIP=5, MEIP=11, SEIP=9; RISC-V privileged spec 3.1.9). The machine wires this to the CPU, so
 * devices never import the CPU.
 */
export interface HartInterruptSink {
  setPending(hartId: number, bit: number, level: boolean): void;
}
