/** The host-side block device contract used by virtio-blk, snapshots and migration. */

/**
 * An open disk image. All offsets and lengths are in bytes; virtio-blk issues 512-byte-aligned
 * requests, but implementations accept any range inside the virtual size. Operations are async so
 * backends may use the host's async file I/O; they resolve once the data is in the image (writes) or
 * in the buffer (reads). Errors reject with an Error whose message names what went wrong.
 */
export interface BlockBackend {
  /** Format name as `qemu-img info` prints it ("raw", "qcow2"). */
  readonly format: string;
  /** Guest-visible size in bytes. */
  readonly size: number;
  readonly readOnly: boolean;
  read(offset: number, buf: Uint8Array): Promise<void>;
  write(offset: number, data: Uint8Array): Promise<void>;
  /** Make every completed write durable (fsync), as virtio-blk VIRTIO_BLK_T_FLUSH requires. */
  flush(): Promise<void>;
  /** Deallocate a range (reads then return zeroes). Backends that cannot deallocate write zeroes. */
  discard(offset: number, length: number): Promise<void>;
  /** Make a range read as zeroes, deallocating where possible. */
  writeZeroes(offset: number, length: number): Promise<void>;
  close(): Promise<void>;
}
