/** SBI v2.0 constants: extension IDs, error codes and the spec version we implement. */

/** SBI spec v2.0 chapter 3 (Binary Encoding), table 1: standard SBI errors. */
export const SBI_SUCCESS = 0;
export const SBI_ERR_FAILED = -1;
export const SBI_ERR_NOT_SUPPORTED = -2;
export const SBI_ERR_INVALID_PARAM = -3;
export const SBI_ERR_DENIED = -4;
export const SBI_ERR_INVALID_ADDRESS = -5;
export const SBI_ERR_ALREADY_AVAILABLE = -6;
export const SBI_ERR_ALREADY_STARTED = -7;
export const SBI_ERR_ALREADY_STOPPED = -8;
export const SBI_ERR_NO_SHMEM = -9;

/** Extension IDs (chapters 4-12). Legacy extensions use EIDs 0x00-0x08 (chapter 5). */
export const SBI_EXT_BASE = 0x10;
export const SBI_EXT_TIME = 0x54494d45; // "TIME"
export const SBI_EXT_IPI = 0x735049; // "sPI"
export const SBI_EXT_RFENCE = 0x52464e43; // "RFNC"
export const SBI_EXT_HSM = 0x48534d; // "HSM"
export const SBI_EXT_SRST = 0x53525354; // "SRST"
export const SBI_EXT_DBCN = 0x4442434e; // "DBCN"

/** Chapter 4.1: spec version = major << 24 | minor. We implement v2.0. */
export const SBI_SPEC_VERSION = (2 << 24) | 0;
/**
 * Chapter 4.9 lists the registered implementation IDs (0 BBL, 1 OpenSBI, ... 11 bhyve). tvisor is not
 * registered; it reports an ID far outside that list so guests' errata code never mistakes it for one.
 */
export const SBI_IMPL_ID_TVISOR = 0x74766973; // "tvis"
export const SBI_IMPL_VERSION = 0x00000100;
