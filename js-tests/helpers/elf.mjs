// The section names of an ELF file (64-bit, little-endian), read from its section headers:
// enough to tell a stripped release build from one carrying debug info, without readelf.
import { readFileSync } from "node:fs";

export function elfSectionNames(path) {
  const buf = readFileSync(path);
  if (buf.readUInt32BE(0) !== 0x7f454c46) throw new Error(`${path} is not an ELF file`);
  if (buf[4] !== 2 || buf[5] !== 1) throw new Error(`${path} is not a 64-bit little-endian ELF file`);
  const shoff = Number(buf.readBigUInt64LE(0x28));
  const entsize = buf.readUInt16LE(0x3a);
  const count = buf.readUInt16LE(0x3c);
  const strndx = buf.readUInt16LE(0x3e);
  // sh_name is an offset into the section-name table, itself section `strndx` (its sh_offset at 0x18).
  const strtab = Number(buf.readBigUInt64LE(shoff + strndx * entsize + 0x18));
  const names = [];
  for (let i = 0; i < count; i++) {
    const start = strtab + buf.readUInt32LE(shoff + i * entsize);
    names.push(buf.toString("latin1", start, buf.indexOf(0, start)));
  }
  return names;
}
