/** An ELF64 parser and loader for bare RISC-V programs: PT_LOAD segments by physical address, entry, symbols. */
/*
 * References: the System V ABI (gABI) ELF-64 object file format, and the RISC-V ELF psABI (EM_RISCV = 243).
 * The file is untrusted input: every header field is bounds-checked against the file before use, and any
 * inconsistency is a UserError with a one-line message (the CLI prints it without a stack trace).
 * Work driven by counts the file controls (header tables, symbol entries, name scans) is spent from a
 * WorkBudget proportional to the file's size, so no crafted file can make parsing hang.
 */
import { UserError } from "../base/errors.js";
import { WorkBudget } from "../base/work-budget.js";
import type { GuestRam } from "../memory/guest-ram.js";

/** e_machine of RISC-V (psABI). */
export const EM_RISCV = 243;
const ELFCLASS64 = 2;
const ELFDATA2LSB = 1;
const ET_EXEC = 2;
const ET_DYN = 3;
const PT_LOAD = 1;
const SHT_SYMTAB = 2;
const EHDR_SIZE = 64;
const PHDR_SIZE = 56;
const SHDR_SIZE = 64;
const SYM_SIZE = 24;
/** Names up to this long are scanned and decoded with plain loops (no view objects). */
const SHORT_NAME = 64;
/**
 * Work units (bytes of header tables and symbol entries read, bytes of names scanned) a file may cost
 * per byte of its size, plus a constant. Tables are each read once and lie inside the file (at most 3x
 * its size together); names may overlap inside a string table (gABI allows any offset), so a crafted
 * table of n symbols naming offsets of one long string would cost O(n * length) unbounded. Real
 * executables scan each name about once and stay far below the budget.
 */
export const ELF_WORK_PER_FILE_BYTE = 4;
export const ELF_WORK_BASE = 64 * 1024;

/** The work budget parseElf applies to a file of `fileBytes` bytes by default. */
export function elfWorkBudget(fileBytes: number): WorkBudget {
  return new WorkBudget(
    ELF_WORK_PER_FILE_BYTE * fileBytes + ELF_WORK_BASE,
    (limit) =>
      new UserError(`corrupt ELF file: its tables and symbol names need more than ${limit} bytes of reading`),
  );
}

/** Common e_machine values, so a wrong-architecture error names the architecture (gABI table). */
const MACHINE_NAMES: Record<number, string> = {
  2: "SPARC",
  3: "x86",
  8: "MIPS",
  20: "PowerPC",
  21: "PowerPC64",
  22: "S390",
  40: "ARM",
  43: "SPARC V9",
  50: "IA-64",
  62: "x86-64",
  183: "AArch64",
  247: "BPF",
  258: "LoongArch",
};

/** One PT_LOAD segment. Addresses are non-negative numbers (physical addresses fit 2^53 on RV64). */
export interface ElfSegment {
  paddr: number;
  vaddr: bigint;
  fileOffset: number;
  fileSize: number;
  memSize: number;
  /** p_flags: PF_X = 1, PF_W = 2, PF_R = 4. */
  flags: number;
}

export interface ElfImage {
  /** e_entry as an unsigned 64-bit value. */
  entry: bigint;
  segments: ElfSegment[];
  /** Defined symbols by name (st_value, unsigned). Later duplicates do not replace earlier ones. */
  symbols: Map<string, bigint>;
}

/** Read helper whose every access is bounds-checked against the file. */
class Reader {
  private readonly view: DataView;
  constructor(
    private readonly data: Uint8Array,
    readonly budget: WorkBudget,
  ) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }
  get length(): number {
    return this.data.length;
  }
  private check(off: number, len: number, what: string): void {
    if (!Number.isSafeInteger(off) || off < 0 || off + len > this.data.length) {
      throw new UserError(
        `truncated ELF file: ${what} at offset ${off} lies outside the ${this.data.length}-byte file`,
      );
    }
  }
  u8(off: number, what: string): number {
    this.check(off, 1, what);
    return this.data[off];
  }
  u16(off: number, what: string): number {
    this.check(off, 2, what);
    return this.view.getUint16(off, true);
  }
  u32(off: number, what: string): number {
    this.check(off, 4, what);
    return this.view.getUint32(off, true);
  }
  u64(off: number, what: string): bigint {
    this.check(off, 8, what);
    return this.view.getBigUint64(off, true);
  }
  /** A 64-bit field that must be a file offset or size: it has to fit a safe integer. */
  size(off: number, what: string): number {
    const v = this.u64(off, what);
    if (v > BigInt(Number.MAX_SAFE_INTEGER))
      throw new UserError(`corrupt ELF file: ${what} is 0x${v.toString(16)}`);
    return Number(v);
  }
  range(off: number, len: number, what: string): void {
    this.check(off, len, what);
  }
  /**
   * The NUL-terminated Latin-1 string at `off` (bounded by `end`), or null when it is unterminated. The
   * scan is paid for from the budget and never looks further than the budget has left, so names that
   * overlap inside a string table cannot make parsing quadratic.
   */
  cstring(off: number, end: number): string | null {
    const data = this.data;
    const limit = Math.min(end, data.length);
    if (off >= limit) return null;
    const room = this.budget.remaining;
    const stop = Math.min(limit, off + room);
    // Most names are short: a plain loop over their first bytes avoids a view object per name.
    const quick = Math.min(stop, off + SHORT_NAME);
    let e = off;
    while (e < quick && data[e] !== 0) e++;
    if (e === quick && e < stop) {
      const n = data.subarray(e, stop).indexOf(0);
      e = n < 0 ? stop : e + n;
    }
    if (e === stop) {
      if (stop < limit) this.budget.spend(room + 1); // throws: the name runs past the budget
      this.budget.spend(stop - off);
      return null;
    }
    this.budget.spend(e - off + 1);
    if (e - off <= SHORT_NAME) {
      let s = "";
      for (let k = off; k < e; k++) s += String.fromCharCode(data[k]);
      return s;
    }
    // Long names are decoded in chunks: a byte-at-a-time concatenation is far slower on them.
    let s = "";
    for (let k = off; k < e; k += 8192) s += String.fromCharCode(...data.subarray(k, Math.min(e, k + 8192)));
    return s;
  }
}

export interface ParseElfOptions {
  /** The work budget to spend from (default: elfWorkBudget(data.length)); tests pass one to count the work. */
  budget?: WorkBudget;
}

/** Parse an ELF64 little-endian RISC-V executable. Throws UserError on anything malformed. */
export function parseElf(data: Uint8Array, opts: ParseElfOptions = {}): ElfImage {
  if (
    data.length < 4 ||
    data[0] !== 0x7f ||
    data[1] !== 0x45 /* E */ ||
    data[2] !== 0x4c /* L */ ||
    data[3] !== 0x46 /* F */
  ) {
    throw new UserError("not an ELF file");
  }
  const r = new Reader(data, opts.budget ?? elfWorkBudget(data.length));
  if (data.length < EHDR_SIZE)
    throw new UserError(`truncated ELF file: ${data.length} bytes, header needs 64`);
  const cls = r.u8(4, "e_ident[EI_CLASS]");
  const machine = r.u16(18, "e_machine");
  if (machine !== EM_RISCV && cls === ELFCLASS64) {
    throw new UserError(`ELF is for machine ${machineName(machine)}, not RISC-V`);
  }
  if (cls !== ELFCLASS64) {
    // A 32-bit header has e_machine at the same offset.
    if (machine !== EM_RISCV) throw new UserError(`ELF is for machine ${machineName(machine)}, not RISC-V`);
    throw new UserError("ELF is 32-bit (RV32); tvisor runs 64-bit RISC-V programs");
  }
  if (r.u8(5, "e_ident[EI_DATA]") !== ELFDATA2LSB)
    throw new UserError("ELF is big-endian; RISC-V is little-endian");
  const type = r.u16(16, "e_type");
  if (type !== ET_EXEC && type !== ET_DYN) {
    throw new UserError(`ELF type ${type} is not an executable (expected ET_EXEC or ET_DYN)`);
  }
  const entry = r.u64(24, "e_entry");
  const phoff = r.size(32, "e_phoff");
  const shoff = r.size(40, "e_shoff");
  const phentsize = r.u16(54, "e_phentsize");
  const phnum = r.u16(56, "e_phnum");
  const shentsize = r.u16(58, "e_shentsize");
  const shnum = r.u16(60, "e_shnum");

  if (phnum === 0) throw new UserError("ELF has no program headers: nothing to load");
  if (phentsize < PHDR_SIZE) throw new UserError(`corrupt ELF file: e_phentsize ${phentsize} < ${PHDR_SIZE}`);
  r.range(phoff, phnum * phentsize, "program header table");
  r.budget.spend(phnum * phentsize);

  const segments: ElfSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const p = phoff + i * phentsize;
    if (r.u32(p, "p_type") !== PT_LOAD) continue;
    const seg: ElfSegment = {
      flags: r.u32(p + 4, "p_flags"),
      fileOffset: r.size(p + 8, "p_offset"),
      vaddr: r.u64(p + 16, "p_vaddr"),
      paddr: r.size(p + 24, "p_paddr"),
      fileSize: r.size(p + 32, "p_filesz"),
      memSize: r.size(p + 40, "p_memsz"),
    };
    if (seg.fileSize > seg.memSize) {
      throw new UserError(`corrupt ELF file: segment ${i} has p_filesz > p_memsz`);
    }
    r.range(seg.fileOffset, seg.fileSize, `segment ${i} contents`);
    if (seg.memSize > 0) segments.push(seg);
  }
  if (segments.length === 0) throw new UserError("ELF has no loadable segments");
  checkNoOverlap(segments);

  const symbols = new Map<string, bigint>();
  if (shoff !== 0 && shnum !== 0) readSymbols(r, shoff, shentsize, shnum, symbols);
  return { entry, segments, symbols };
}

/**
 * Segments are loaded by physical address; two that overlap would write the same bytes twice, and a
 * crafted file could list 65535 segments each spanning all of RAM (a memset of RAM per segment). QEMU's
 * loader refuses overlapping ROM regions likewise; linkers never emit them. Sorting keeps this O(n log n).
 */
function checkNoOverlap(segments: ElfSegment[]): void {
  const byAddr = [...segments].sort((a, b) => a.paddr - b.paddr);
  for (let i = 1; i < byAddr.length; i++) {
    const prev = byAddr[i - 1];
    if (prev.paddr + prev.memSize > byAddr[i].paddr) {
      throw new UserError(
        `corrupt ELF file: segments at ${hex(prev.paddr)} (${prev.memSize} bytes) and ${hex(byAddr[i].paddr)} overlap`,
      );
    }
  }
}

/**
 * Collect the defined symbols of the SHT_SYMTAB section (gABI "Symbol Table"). The gABI allows one
 * section of that type per file, so only the first is read: a file listing the same large table in
 * 65535 section headers costs one pass over it, not 65535.
 */
function readSymbols(
  r: Reader,
  shoff: number,
  shentsize: number,
  shnum: number,
  out: Map<string, bigint>,
): void {
  if (shentsize < SHDR_SIZE) throw new UserError(`corrupt ELF file: e_shentsize ${shentsize} < ${SHDR_SIZE}`);
  r.range(shoff, shnum * shentsize, "section header table");
  r.budget.spend(shnum * shentsize);
  for (let i = 0; i < shnum; i++) {
    const s = shoff + i * shentsize;
    if (r.u32(s + 4, "sh_type") !== SHT_SYMTAB) continue;
    const off = r.size(s + 24, "sh_offset");
    const size = r.size(s + 32, "sh_size");
    const link = r.u32(s + 40, "sh_link");
    const entsize = r.size(s + 56, "sh_entsize");
    if (entsize < SYM_SIZE) throw new UserError(`corrupt ELF file: symbol entry size ${entsize}`);
    if (link >= shnum) throw new UserError(`corrupt ELF file: symbol table links to section ${link}`);
    r.range(off, size, "symbol table");
    const str = shoff + link * shentsize;
    const strOff = r.size(str + 24, "string table sh_offset");
    const strSize = r.size(str + 32, "string table sh_size");
    r.range(strOff, strSize, "string table");
    const count = Math.floor(size / entsize);
    r.budget.spend(count * SYM_SIZE);
    for (let k = 0; k < count; k++) {
      const e = off + k * entsize;
      const nameOff = r.u32(e, "st_name");
      const shndx = r.u16(e + 6, "st_shndx");
      if (nameOff === 0 || shndx === 0) continue; // unnamed or undefined (SHN_UNDEF)
      if (nameOff >= strSize)
        throw new UserError(`corrupt ELF file: symbol name offset ${nameOff} outside its table`);
      const name = r.cstring(strOff + nameOff, strOff + strSize);
      if (name === null) throw new UserError("corrupt ELF file: unterminated symbol name");
      if (!out.has(name)) out.set(name, r.u64(e + 8, "st_value"));
    }
    return;
  }
}

function machineName(m: number): string {
  const name = MACHINE_NAMES[m];
  return name === undefined ? `${m}` : `${name} (${m})`;
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

/**
 * Copy every PT_LOAD segment to its physical address (p_paddr) in RAM and zero the rest of its memory
 * image (.bss). A segment not wholly inside RAM is a UserError; nothing is written in that case.
 */
export function loadElf(image: ElfImage, data: Uint8Array, ram: GuestRam): void {
  for (const seg of image.segments) {
    if (!ram.contains(seg.paddr, seg.memSize)) {
      throw new UserError(
        `segment ${hex(seg.paddr)}..${hex(seg.paddr + seg.memSize)} outside RAM [${hex(ram.base)}, ${hex(ram.base + ram.size)})`,
      );
    }
  }
  for (const seg of image.segments) {
    ram.write(seg.paddr, data.subarray(seg.fileOffset, seg.fileOffset + seg.fileSize));
    ram.fill(seg.paddr + seg.fileSize, seg.memSize - seg.fileSize, 0);
  }
}
