// Generates the FP test-vector table (vectors.bin + vectors-meta.json) run by runner.S under QEMU.
// Usage: node gen-vectors.mjs <outdir>
// Vector layout (32 bytes, little-endian): u32 insn, u32 frm, u64 a, u64 b, u64 c. Registers used by every
// instruction: rd = x10/f10, rs1 = f1 (or x11 for integer sources), rs2 = f2, rs3 = f3.
import { writeFileSync } from "node:fs";
import { join } from "node:path";

const outDir = process.argv[2] ?? ".";

// ---- deterministic PRNG (mulberry32) ----
let seed = 0x5eed1234;
function rand32() {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return (t ^ (t >>> 14)) >>> 0;
}
const randInt = (n) => rand32() % n;
const rand64 = () => (BigInt(rand32()) << 32n) | BigInt(rand32());
const pick = (arr) => arr[randInt(arr.length)];

// ---- bit helpers ----
const dv = new DataView(new ArrayBuffer(8));
const dbits = (x) => {
  dv.setFloat64(0, x);
  return dv.getBigUint64(0);
};
const sbits = (x) => {
  dv.setFloat32(0, x);
  return BigInt(dv.getUint32(0));
};
const BOX = 0xffffffff00000000n;
const box = (b32) => BOX | (BigInt(b32) & 0xffffffffn);
const M64 = (1n << 64n) - 1n;

// ---- operand pools (raw 64-bit register contents) ----
const D = {
  pz: 0n,
  nz: 1n << 63n,
  pinf: 0x7ff0000000000000n,
  ninf: 0xfff0000000000000n,
  qnan: 0x7ff8000000000000n,
  nqnan: 0xfff8000000000123n,
  snan: 0x7ff0000000000001n,
  nsnan: 0xfff4000000000000n,
  maxn: 0x7fefffffffffffffn,
  nmaxn: 0xffefffffffffffffn,
  minn: 0x0010000000000000n,
  nminn: 0x8010000000000000n,
  maxsub: 0x000fffffffffffffn,
  minsub: 0x0000000000000001n,
  nminsub: 0x8000000000000001n,
  one: dbits(1),
  none: dbits(-1),
  onep: dbits(1) + 1n,
  onem: dbits(1) - 1n,
  half: dbits(0.5),
  three: dbits(3),
  pi: dbits(Math.PI),
  tenth: dbits(0.1),
  big: dbits(1e300),
  tiny: dbits(1e-300),
};
const S = {
  pz: 0x00000000,
  nz: 0x80000000,
  pinf: 0x7f800000,
  ninf: 0xff800000,
  qnan: 0x7fc00000,
  nqnan: 0xffc00123,
  snan: 0x7f800001,
  nsnan: 0xffa00000,
  maxn: 0x7f7fffff,
  nmaxn: 0xff7fffff,
  minn: 0x00800000,
  nminn: 0x80800000,
  maxsub: 0x007fffff,
  minsub: 0x00000001,
  nminsub: 0x80000001,
  one: 0x3f800000,
  none: 0xbf800000,
  onep: 0x3f800001,
  onem: 0x3f7fffff,
  half: 0x3f000000,
  three: 0x40400000,
  pi: 0x40490fdb,
  tenth: 0x3dcccccd,
  big: 0x7e967699,
  tiny: 0x0d800000,
};
const specialsD = Object.values(D);
const specialsS = Object.values(S).map(box);

function randD() {
  switch (randInt(6)) {
    case 0:
      return rand64();
    case 1: // moderate exponents: the common case
      return (
        (BigInt(randInt(2)) << 63n) |
        (BigInt(1023 - 8 + randInt(16)) << 52n) |
        (rand64() & ((1n << 52n) - 1n))
      );
    case 2: // near and below the normal range
      return (BigInt(randInt(2)) << 63n) | (BigInt(randInt(4)) << 52n) | (rand64() & ((1n << 52n) - 1n));
    case 3: // near overflow
      return (
        (BigInt(randInt(2)) << 63n) | (BigInt(2046 - randInt(3)) << 52n) | (rand64() & ((1n << 52n) - 1n))
      );
    case 4: // few significant bits: exact results and ties
      return (
        (BigInt(randInt(2)) << 63n) | (BigInt(1023 - 3 + randInt(8)) << 52n) | (BigInt(randInt(16)) << 48n)
      );
    default: // wide exponent spread
      return (
        (BigInt(randInt(2)) << 63n) | (BigInt(1 + randInt(2046)) << 52n) | (rand64() & ((1n << 52n) - 1n))
      );
  }
}
function randS32() {
  const sign = randInt(2) << 31;
  const frac = rand32() & 0x7fffff;
  switch (randInt(6)) {
    case 0:
      return rand32();
    case 1:
      return (sign | ((127 - 8 + randInt(16)) << 23) | frac) >>> 0;
    case 2:
      return (sign | (randInt(4) << 23) | frac) >>> 0;
    case 3:
      return (sign | ((254 - randInt(3)) << 23) | frac) >>> 0;
    case 4:
      return (sign | ((127 - 3 + randInt(8)) << 23) | (randInt(16) << 19)) >>> 0;
    default:
      return (sign | ((1 + randInt(253)) << 23) | frac) >>> 0;
  }
}
const randS = () => box(randS32());
const rnd = (isD) => (isD ? randD() : randS());
const specials = (isD) => (isD ? specialsD : specialsS);

/** Pairs whose exact result lands near a rounding boundary or the underflow threshold. */
function nearPairs(isD, op) {
  const out = [];
  for (let i = 0; i < 24; i++) {
    const a = rnd(isD);
    const av = isD ? dvOf(a) : svOf(a);
    if (!Number.isFinite(av) || av === 0) continue;
    // target: the smallest normal, or 1, times a few ulps, so results straddle the boundaries
    const target = pick(
      isD
        ? [2 ** -1022, 2 ** -1022 * (1 - 2 ** -53), 1, 2 ** 1023]
        : [2 ** -126, 2 ** -126 * (1 - 2 ** -24), 1, 2 ** 127],
    );
    let b = op === "mul" ? target / av : op === "div" ? av / target : target - av;
    if (!isD) b = Math.fround(b);
    if (!Number.isFinite(b) || b === 0) continue;
    let bb = isD ? dbits(b) : box(Number(sbits(b)));
    bb = (bb + BigInt(randInt(5) - 2)) & M64;
    out.push([a, bb]);
  }
  return out;
}
function dvOf(bits) {
  dv.setBigUint64(0, bits);
  return dv.getFloat64(0);
}
function svOf(bits) {
  dv.setUint32(0, Number(bits & 0xffffffffn));
  return dv.getFloat32(0);
}

// ---- encodings ----
const RD = 10;
const RS1F = 1;
const RS1X = 11;
const RS2 = 2;
const RS3 = 3;
const rtype = (funct7, rs2, rs1, rm) =>
  ((funct7 << 25) | (rs2 << 20) | (rs1 << 15) | (rm << 12) | (RD << 7) | 0x53) >>> 0;
const r4 = (opc, fmt, rm) =>
  ((RS3 << 27) | (fmt << 25) | (RS2 << 20) | (RS1F << 15) | (rm << 12) | (RD << 7) | opc) >>> 0;

const vectors = []; // {op, insn, frm, a, b, c}
function add(op, insn, frm, a, b = 0n, c = 0n) {
  vectors.push({ op, insn, frm, a: a & M64, b: b & M64, c: c & M64 });
}

/** Emits operand tuples for every rounding mode, plus dynamic-rm and illegal-rm variants. */
function withRms(op, mk, tuples) {
  for (const t of tuples) {
    for (let rm = 0; rm < 5; rm++) add(op, mk(rm), randInt(8), ...t);
  }
  // dynamic rounding through frm
  for (let i = 0; i < Math.min(tuples.length, 30); i++) {
    const t = tuples[randInt(tuples.length)];
    add(op, mk(7), randInt(5), ...t);
  }
  // reserved rm values and DYN with a reserved frm are illegal
  const t = tuples[0];
  add(op, mk(5), 0, ...t);
  add(op, mk(6), 0, ...t);
  add(op, mk(7), 5, ...t);
  add(op, mk(7), 6, ...t);
  add(op, mk(7), 7, ...t);
}

function pairs(isD, nRandom) {
  const sp = specials(isD);
  const out = [];
  for (const a of sp) for (const b of sp) if (randInt(4) === 0) out.push([a, b]);
  for (let i = 0; i < nRandom; i++) out.push([rnd(isD), rnd(isD)]);
  for (let i = 0; i < nRandom / 4; i++) {
    // near-cancellation: b close to ±a
    const a = rnd(isD);
    const b = (a ^ (randInt(2) ? (isD ? 1n << 63n : 1n << 31n) : 0n)) + BigInt(randInt(7) - 3);
    out.push([a, b]);
  }
  if (!isD) {
    // improperly NaN-boxed singles read as the canonical NaN
    out.push([0x000000003f800000n, box(S.one)], [box(S.one), 0x7fffffff40000000n]);
  }
  return out;
}

for (const isD of [false, true]) {
  const fmt = isD ? 1 : 0;
  const sfx = isD ? ".d" : ".s";
  const arith = [
    ["fadd", 0x00, "add"],
    ["fsub", 0x04, "add"],
    ["fmul", 0x08, "mul"],
    ["fdiv", 0x0c, "div"],
  ];
  for (const [name, f7, kind] of arith) {
    const ps = [...pairs(isD, 64), ...nearPairs(isD, kind)];
    withRms(name + sfx, (rm) => rtype(f7 | fmt, RS2, RS1F, rm), ps);
  }
  {
    const us = [...specials(isD).map((a) => [a])];
    for (let i = 0; i < 100; i++) us.push([rnd(isD) & (isD ? ~(1n << 63n) : ~(1n << 31n))]);
    for (let i = 0; i < 20; i++) us.push([rnd(isD)]);
    // perfect squares and their neighbours
    for (let i = 0; i < 20; i++) {
      const r = isD ? 1 + randInt(1 << 26) : 1 + randInt(1 << 12);
      const sq = isD ? dbits(r * r) : box(Number(sbits(r * r)));
      us.push([sq], [sq + 1n], [sq - 1n]);
    }
    withRms(`fsqrt${sfx}`, (rm) => rtype(0x2c | fmt, 0, RS1F, rm), us);
    // rs2 != 0 is reserved
    add(`fsqrt${sfx}`, rtype(0x2c | fmt, 1, RS1F, 0), 0, us[0][0]);
  }
  // fused multiply-add family
  const fmas = [
    ["fmadd", 0x43],
    ["fmsub", 0x47],
    ["fnmsub", 0x4b],
    ["fnmadd", 0x4f],
  ];
  for (const [name, opc] of fmas) {
    const ts = [];
    const sp = specials(isD);
    for (let i = 0; i < 60; i++) ts.push([pick(sp), pick(sp), pick(sp)]);
    for (let i = 0; i < 70; i++) ts.push([rnd(isD), rnd(isD), rnd(isD)]);
    const nan = isD ? D.qnan : box(S.qnan);
    const inf = isD ? D.pinf : box(S.pinf);
    const zero = isD ? D.pz : box(S.pz);
    ts.push([inf, zero, nan], [zero, inf, nan], [inf, zero, isD ? D.snan : box(S.snan)]);
    for (let i = 0; i < 40; i++) {
      // c close to -a*b: massive cancellation exposes the unrounded product
      const a = rnd(isD);
      const b = rnd(isD);
      const av = isD ? dvOf(a) : svOf(a);
      const bv = isD ? dvOf(b) : svOf(b);
      const p = isD ? av * bv : Math.fround(av * bv);
      if (!Number.isFinite(p)) continue;
      let c = isD ? dbits(-p) : box(Number(sbits(-p)));
      c = (c + BigInt(randInt(3) - 1)) & M64;
      ts.push([a, b, c]);
    }
    withRms(name + sfx, (rm) => r4(opc, fmt, rm), ts);
    add(name + sfx, r4(opc, 2, 0), 0, ts[0][0], ts[0][1], ts[0][2]); // fmt H is not implemented: illegal
    add(name + sfx, r4(opc, 3, 0), 0, ts[0][0], ts[0][1], ts[0][2]); // fmt Q: illegal
  }
  // sign injection, min/max, compares: fixed funct3
  const ps = pairs(isD, 30);
  const fixed = [
    ["fsgnj", 0x10, 0],
    ["fsgnjn", 0x10, 1],
    ["fsgnjx", 0x10, 2],
    ["fmin", 0x14, 0],
    ["fmax", 0x14, 1],
    ["fle", 0x50, 0],
    ["flt", 0x50, 1],
    ["feq", 0x50, 2],
  ];
  for (const [name, f7, f3] of fixed) {
    for (const [a, b] of ps) add(name + sfx, rtype(f7 | fmt, RS2, RS1F, f3), randInt(5), a, b);
    for (const a of specials(isD)) add(name + sfx, rtype(f7 | fmt, RS2, RS1F, f3), 0, a, a);
    add(name + sfx, rtype(f7 | fmt, RS2, RS1F, 3), 0, ps[0][0], ps[0][1]); // reserved funct3
    add(name + sfx, rtype(f7 | fmt, RS2, RS1F, 7), 0, ps[0][0], ps[0][1]);
  }
  // fclass and fmv.x
  const cls = [...specials(isD).map((a) => [a]), ...Array.from({ length: 30 }, () => [rnd(isD)])];
  if (!isD) cls.push([0x123456783f800000n], [0x00000000ff800000n]);
  for (const [a] of cls) {
    add(`fclass${sfx}`, rtype(0x70 | fmt, 0, RS1F, 1), 0, a);
    add(isD ? "fmv.x.d" : "fmv.x.w", rtype(0x70 | fmt, 0, RS1F, 0), 0, a);
  }
  add(`fclass${sfx}`, rtype(0x70 | fmt, 1, RS1F, 1), 0, D.one); // rs2 != 0
  add(`fclass${sfx}`, rtype(0x70 | fmt, 0, RS1F, 2), 0, D.one); // funct3 2
  for (let i = 0; i < 30; i++) add(isD ? "fmv.d.x" : "fmv.w.x", rtype(0x78 | fmt, 0, RS1X, 0), 0, rand64());
  add(isD ? "fmv.d.x" : "fmv.w.x", rtype(0x78 | fmt, 0, RS1X, 1), 0, rand64()); // funct3 1: illegal

  // float -> int conversions
  const toIntVals = isD
    ? [
        0,
        -0,
        0.5,
        -0.5,
        1.5,
        2.5,
        -1.5,
        -2.5,
        0.49999999999999994,
        -0.49999999999999994,
        1,
        -1,
        -0.75,
        0.75,
        2147483647,
        2147483647.5,
        2147483648,
        2147483648.5,
        -2147483648,
        -2147483648.5,
        -2147483649,
        2147483646.5,
        4294967295,
        4294967295.5,
        4294967296,
        4294967296.5,
        -4294967296,
        2 ** 52 + 1,
        2 ** 53,
        2 ** 63,
        2 ** 63 - 1024,
        -(2 ** 63),
        -(2 ** 63) - 2048,
        2 ** 64,
        2 ** 64 - 2048,
        1e300,
        -1e300,
        123.456,
        -123.456,
        2 ** -1074,
        -(2 ** -1074),
      ].map(dbits)
    : [
        0,
        -0,
        0.5,
        -0.5,
        1.5,
        2.5,
        -1.5,
        -2.5,
        0.49999997,
        1,
        -1,
        -0.75,
        0.75,
        2147483648,
        2147483520,
        -2147483648,
        -2147483904,
        4294967296,
        4294967040,
        2 ** 63,
        2 ** 63 - 2 ** 39,
        -(2 ** 63),
        2 ** 64,
        2 ** 64 - 2 ** 40,
        1e38,
        -1e38,
        123.456,
        8388607.5,
        2 ** -149,
      ].map((v) => box(Number(sbits(v))));
  const toIntTuples = [...toIntVals, ...specials(isD)].map((a) => [a]);
  for (let i = 0; i < 40; i++) {
    // random values in the integer ranges
    const e = randInt(66);
    let v = (rand32() / 2 ** 32 + 1) * 2 ** e * (randInt(2) ? -1 : 1);
    if (!isD) v = Math.fround(v);
    toIntTuples.push([isD ? dbits(v) : box(Number(sbits(v)))]);
  }
  const ints = ["w", "wu", "l", "lu"];
  for (let k = 0; k < 4; k++) {
    withRms(`fcvt.${ints[k]}${sfx}`, (rm) => rtype(0x60 | fmt, k, RS1F, rm), toIntTuples);
  }
  add(`fcvt.w${sfx}`, rtype(0x60 | fmt, 4, RS1F, 0), 0, D.one); // rs2 = 4: reserved
  // int -> float conversions
  const intVals = [
    0n,
    1n,
    M64,
    0x7fffffffn,
    0xffffffff80000000n,
    0x80000000n,
    0xffffffffn,
    0x100000000n,
    (1n << 53n) + 1n,
    (1n << 63n) - 1n,
    1n << 63n,
    (1n << 24n) + 1n,
    (1n << 24n) + 3n,
    (1n << 54n) + 2n,
    (1n << 54n) + 6n,
    0x123456789abcdef0n,
    0xfffffffffffff801n,
    0x0000000100000001n,
    0xdeadbeef01000001n,
  ];
  for (let i = 0; i < 40; i++) {
    const r = rand64();
    intVals.push(i % 2 ? r : r >> BigInt(randInt(64)));
  }
  for (let k = 0; k < 4; k++) {
    withRms(
      `fcvt${sfx}.${ints[k]}`,
      (rm) => rtype(0x68 | fmt, k, RS1X, rm),
      intVals.map((v) => [v]),
    );
  }
  add(`fcvt${sfx}.w`, rtype(0x68 | fmt, 5, RS1X, 0), 0, 1n); // rs2 = 5: reserved
}

// format conversions
{
  const fromD = [...specialsD];
  for (let i = 0; i < 120; i++) fromD.push(randD());
  for (const v of [
    2 ** -126,
    2 ** -126 * (1 - 2 ** -25),
    2 ** -149,
    2 ** -150,
    2 ** -150 * 1.5,
    3.4028235677973366e38,
    3.4028235677973366e38 * (1 + 2 ** -25),
    1 + 2 ** -24,
    1 + 2 ** -24 + 2 ** -52,
    1 + 3 * 2 ** -24,
  ]) {
    fromD.push(dbits(v), dbits(-v));
  }
  for (let i = 0; i < 60; i++) {
    // doubles near single-precision ties and the single subnormal range
    const s = randS32() & 0x7fffffff;
    dv.setUint32(0, s);
    const base = dv.getFloat32(0);
    if (!Number.isFinite(base)) continue;
    fromD.push(dbits(base) + (1n << 28n) + BigInt(randInt(3) - 1));
  }
  withRms(
    "fcvt.s.d",
    (rm) => rtype(0x20, 1, RS1F, rm),
    fromD.map((a) => [a]),
  );
  add("fcvt.s.d", rtype(0x20, 0, RS1F, 0), 0, D.one); // rs2 must be 1
  const fromS = [...specialsS, 0x00000000ff800000n, 0x3f800000n];
  for (let i = 0; i < 40; i++) fromS.push(randS());
  withRms(
    "fcvt.d.s",
    (rm) => rtype(0x21, 0, RS1F, rm),
    fromS.map((a) => [a]),
  );
  add("fcvt.d.s", rtype(0x21, 1, RS1F, 0), 0, D.one); // rs2 must be 0
}
// unsupported fmt values in OP-FP (H = 2, Q = 3) are illegal here
add("illegal", rtype(0x02, RS2, RS1F, 0), 0, D.one, D.one);
add("illegal", rtype(0x03, RS2, RS1F, 0), 0, D.one, D.one);
add("illegal", rtype(0x7c, 0, RS1F, 0), 0, D.one); // funct5 0x1f unused

const buf = Buffer.alloc(vectors.length * 32);
vectors.forEach((v, i) => {
  buf.writeUInt32LE(v.insn, i * 32);
  buf.writeUInt32LE(v.frm, i * 32 + 4);
  buf.writeBigUInt64LE(v.a, i * 32 + 8);
  buf.writeBigUInt64LE(v.b, i * 32 + 16);
  buf.writeBigUInt64LE(v.c, i * 32 + 24);
});
writeFileSync(join(outDir, "vectors.bin"), buf);
const hex = (x, n) => x.toString(16).padStart(n, "0");
writeFileSync(
  join(outDir, "vectors-meta.json"),
  JSON.stringify(vectors.map((v) => [v.op, hex(v.insn, 8), v.frm, hex(v.a, 16), hex(v.b, 16), hex(v.c, 16)])),
);
console.log(`${vectors.length} vectors`);
