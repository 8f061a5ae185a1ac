/** Writes minimal DICOM Part-10 files byte by byte, for tests of the DICOM decoder. */

interface Element {
  group: number;
  element: number;
  vr: string;
  value: Uint8Array;
}

const LONG_LENGTH_VRS = new Set(['OB', 'OW', 'SQ', 'UN', 'UT']);

function text(value: string, pad = ' '): Uint8Array {
  const padded = value.length % 2 === 1 ? value + pad : value;
  return new TextEncoder().encode(padded);
}

function uint16(value: number): Uint8Array {
  return new Uint8Array(new Uint16Array([value]).buffer);
}

function encodeExplicit(elements: Element[]): Uint8Array[] {
  const parts: Uint8Array[] = [];
  for (const { group, element, vr, value } of elements) {
    const header = new DataView(new ArrayBuffer(LONG_LENGTH_VRS.has(vr) ? 12 : 8));
    header.setUint16(0, group, true);
    header.setUint16(2, element, true);
    header.setUint8(4, vr.charCodeAt(0));
    header.setUint8(5, vr.charCodeAt(1));
    if (LONG_LENGTH_VRS.has(vr)) header.setUint32(8, value.length, true);
    else header.setUint16(6, value.length, true);
    parts.push(new Uint8Array(header.buffer), value);
  }
  return parts;
}

export interface DicomFixtureOptions {
  rows: number;
  columns: number;
  /** Pixel samples, frame after frame: uint8 for 8 bits, uint16 for 16 bits. */
  pixels: Uint8Array | Uint16Array;
  bitsAllocated?: 8 | 16;
  samplesPerPixel?: 1 | 3;
  photometric?: string;
  frames?: number;
  transferSyntax?: string;
  windowCentre?: number;
  windowWidth?: number;
  patientName?: string;
  patientId?: string;
  patientBirthDate?: string;
}

/** Builds an explicit VR little endian Part-10 file with patient tags and the image pixel module. */
export function buildDicom(options: DicomFixtureOptions): Uint8Array {
  const syntax = options.transferSyntax ?? '1.2.840.10008.1.2.1';
  const bits = options.bitsAllocated ?? 8;
  const meta = encodeExplicit([
    { group: 0x0002, element: 0x0001, vr: 'OB', value: new Uint8Array([0, 1]) },
    { group: 0x0002, element: 0x0002, vr: 'UI', value: text('1.2.840.10008.5.1.4.1.1.6.1', '\0') },
    { group: 0x0002, element: 0x0003, vr: 'UI', value: text('1.2.3.4.5', '\0') },
    { group: 0x0002, element: 0x0010, vr: 'UI', value: text(syntax, '\0') },
  ]);
  const metaLength = meta.reduce((sum, part) => sum + part.length, 0);
  const groupLength = encodeExplicit([{ group: 0x0002, element: 0x0000, vr: 'UL', value: new Uint8Array(new Uint32Array([metaLength]).buffer) }]);

  const pixelBytes = new Uint8Array(options.pixels.buffer, options.pixels.byteOffset, options.pixels.byteLength);
  const dataset: Element[] = [
    { group: 0x0008, element: 0x0060, vr: 'CS', value: text('US') },
    { group: 0x0010, element: 0x0010, vr: 'PN', value: text(options.patientName ?? 'DOE^JANE') },
    { group: 0x0010, element: 0x0020, vr: 'LO', value: text(options.patientId ?? 'PID-0042') },
    { group: 0x0010, element: 0x0030, vr: 'DA', value: text(options.patientBirthDate ?? '19700101') },
    { group: 0x0028, element: 0x0002, vr: 'US', value: uint16(options.samplesPerPixel ?? 1) },
    { group: 0x0028, element: 0x0004, vr: 'CS', value: text(options.photometric ?? 'MONOCHROME2') },
    ...(options.samplesPerPixel === 3 ? [{ group: 0x0028, element: 0x0006, vr: 'US', value: uint16(0) }] : []),
    ...(options.frames && options.frames > 1 ? [{ group: 0x0028, element: 0x0008, vr: 'IS', value: text(String(options.frames)) }] : []),
    { group: 0x0028, element: 0x0010, vr: 'US', value: uint16(options.rows) },
    { group: 0x0028, element: 0x0011, vr: 'US', value: uint16(options.columns) },
    { group: 0x0028, element: 0x0100, vr: 'US', value: uint16(bits) },
    { group: 0x0028, element: 0x0101, vr: 'US', value: uint16(bits) },
    { group: 0x0028, element: 0x0102, vr: 'US', value: uint16(bits - 1) },
    { group: 0x0028, element: 0x0103, vr: 'US', value: uint16(0) },
    ...(options.windowCentre !== undefined ? [{ group: 0x0028, element: 0x1050, vr: 'DS', value: text(String(options.windowCentre)) }] : []),
    ...(options.windowWidth !== undefined ? [{ group: 0x0028, element: 0x1051, vr: 'DS', value: text(String(options.windowWidth)) }] : []),
    { group: 0x7fe0, element: 0x0010, vr: bits === 8 ? 'OB' : 'OW', value: pixelBytes.length % 2 ? Uint8Array.from([...pixelBytes, 0]) : pixelBytes },
  ];
  const parts = [new Uint8Array(128), new TextEncoder().encode('DICM'), ...groupLength, ...meta, ...encodeExplicit(dataset)];
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const output = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    output.set(part, offset);
    offset += part.length;
  }
  return output;
}
