/** 64-bit values held as JS numbers or as two 32-bit halves: the one definition of the split. */

/** 2^32: the weight of the high 32-bit half of a 64-bit value. */
export const TWO_POW_32 = 0x1_0000_0000;
