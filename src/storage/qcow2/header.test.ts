/** Unit tests for qcow2 header parsing and serialization. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ImageFormatError } from "../../base/errors.js";
import {
  parseHeader,
  type Qcow2Header,
  serializeHeader,
  V3_HEADER_LENGTH_WITH_COMPRESSION,
} from "./header.js";

const base: Qcow2Header = {
  version: 3,
  backingFileOffset: 0,
  backingFileSize: 0,
  clusterBits: 16,
  size: 1 << 30,
  cryptMethod: 0,
  l1Size: 2,
  l1TableOffset: 3 * 65536,
  refcountTableOffset: 65536,
  refcountTableClusters: 1,
  nbSnapshots: 0,
  snapshotsOffset: 0,
  incompatibleFeatures: 0,
  compatibleFeatures: 0,
  autoclearFeatures: 0,
  refcountOrder: 4,
  headerLength: V3_HEADER_LENGTH_WITH_COMPRESSION,
  compressionType: 0,
  backingFile: "base.qcow2",
  backingFormat: "qcow2",
  otherExtensions: [],
};

test("header round-trips with backing name and format", () => {
  const b = serializeHeader({ ...base });
  const h = parseHeader(b, 4 * 65536);
  assert.equal(h.size, 1 << 30);
  assert.equal(h.backingFile, "base.qcow2");
  assert.equal(h.backingFormat, "qcow2");
  assert.equal(h.refcountOrder, 4);
});

test("header rejects bad cluster bits, unknown features and out-of-file tables", () => {
  const b = serializeHeader({ ...base });
  const bad = (mut: (x: Uint8Array) => void, fileSize = 4 * 65536): void => {
    const c = b.slice();
    mut(c);
    assert.throws(() => parseHeader(c, fileSize), ImageFormatError);
  };
  bad((c) => {
    c[23] = 30;
  });
  bad((c) => {
    c[79] = 0x80;
  });
  bad(() => undefined, 2 * 65536);
  bad((c) => {
    c[0] = 0;
  });
});
