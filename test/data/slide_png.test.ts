/**
 * The tiler's PNG writer (data/slide/png.ts) and its one-pass magnification pyramid
 * (areaPyramid in data/slide/resample.ts). The PNGs are decoded by sharp (libpng) and by the
 * project's loader (data/image.ts decodeImage): every mode must give back the exact pixels,
 * at awkward sizes (1 x 1, odd widths, rows longer than a stored deflate block), and from rows
 * inside a larger buffer (stride, offset). Chunk CRCs are checked against a bytewise CRC-32.
 * The pyramid must equal data/image.ts areaDownsample exactly for every factor.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import zlib from 'node:zlib';
import sharp from 'sharp';
import { Rng } from '../../engine/random.ts';
import { areaDownsample, decodeImage, type RgbImage } from '../../data/image.ts';
import { crc32, crc32Table, encodeRgbPng, PNG_COMPRESSIONS } from '../../data/slide/png.ts';
import { areaPyramid, areaResample, asView, viewOf } from '../../data/slide/resample.ts';
import { tempDir } from './fixtures.ts';

const tmp = tempDir('slide-png');
test.after(() => tmp.cleanup());

/** Noise with some smooth structure (so the filtered modes have something to compress). */
function image(width: number, height: number, seed: number): RgbImage {
  const rng = new Rng(seed);
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++)
      for (let c = 0; c < 3; c++) data[(y * width + x) * 3 + c] = (x * (c + 1) + y * 3 + Math.floor(rng.uniform() * 40)) & 255;
  return { data, width, height };
}

/** Chunks of a PNG: type, data, and whether the stored CRC matches the bytewise CRC-32. */
function chunks(png: Uint8Array): { type: string; data: Buffer; crcOk: boolean }[] {
  const b = Buffer.from(png.buffer, png.byteOffset, png.length);
  assert.equal([...b.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
  const out = [];
  for (let p = 8; p < b.length;) {
    const length = b.readUInt32BE(p);
    const type = b.toString('latin1', p + 4, p + 8);
    const crc = b.readUInt32BE(p + 8 + length);
    out.push({ type, data: b.subarray(p + 8, p + 8 + length), crcOk: crc === crc32Table(b.subarray(p + 4, p + 8 + length)) });
    p += 12 + length;
  }
  return out;
}

test('crc32: the native and the table CRC agree with the CRC-32 check value and with each other', () => {
  const check = new TextEncoder().encode('123456789');
  assert.is(crc32Table(check), 0xcbf43926);
  assert.is(crc32(check), 0xcbf43926);
  const bytes = image(97, 13, 1).data;
  assert.is(crc32(bytes), crc32Table(bytes));
  assert.is(crc32Table(new Uint8Array(0)), 0);
});

test('encodeRgbPng: every mode round-trips exactly through sharp at awkward sizes; chunks are IHDR, IDAT, IEND with valid CRCs; same pixels, same bytes', async () => {
  // 21846 pixels: a 65539-byte scanline, longer than one stored deflate block.
  const sizes: [number, number][] = [
    [1, 1],
    [7, 3],
    [3, 7],
    [256, 256],
    [129, 2],
    [21846, 2],
  ];
  for (const compression of PNG_COMPRESSIONS) {
    for (const [w, h] of sizes) {
      const img = image(w, h, w * 31 + h);
      const png = encodeRgbPng(img.data, w, h, compression);
      const cs = chunks(png);
      assert.equal(
        cs.map((c) => c.type),
        ['IHDR', 'IDAT', 'IEND'],
        `${compression} ${w}x${h} chunks`,
      );
      for (const c of cs) assert.ok(c.crcOk, `${compression} ${w}x${h}: ${c.type} CRC`);
      const ihdr = cs[0].data;
      assert.equal([ihdr.readUInt32BE(0), ihdr.readUInt32BE(4), ...ihdr.subarray(8, 13)], [w, h, 8, 2, 0, 0, 0], 'IHDR');
      const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
      assert.equal([info.width, info.height, info.channels], [w, h, 3], `${compression} ${w}x${h} decoded shape`);
      assert.ok(Buffer.from(img.data).equals(data), `${compression} ${w}x${h}: decoded pixels differ`);
      assert.ok(encodeRgbPng(img.data, w, h, compression).equals(png), `${compression} ${w}x${h}: not deterministic`);
    }
  }
});

test("encodeRgbPng: 'none' stores the scanlines (filter 0, deflate stored blocks); 'fast' filters Up and compresses this image below 'none'", () => {
  const img = image(64, 48, 5);
  const none = encodeRgbPng(img.data, 64, 48, 'none');
  const raw = zlib.inflateSync(chunks(none)[1].data);
  assert.is(raw.length, 48 * (64 * 3 + 1));
  for (let y = 0; y < 48; y++) {
    assert.is(raw[y * 193], 0, `row ${y} filter`);
    assert.ok(raw.subarray(y * 193 + 1, (y + 1) * 193).equals(Buffer.from(img.data.subarray(y * 192, (y + 1) * 192))), `row ${y}`);
  }
  const fast = encodeRgbPng(img.data, 64, 48, 'fast');
  const up = zlib.inflateSync(chunks(fast)[1].data);
  for (let y = 0; y < 48; y++) assert.is(up[y * 193], 2, `row ${y} filter`);
  assert.ok(fast.length < none.length, `fast ${fast.length} bytes vs none ${none.length}`);
});

test('encodeRgbPng: rows taken from inside a larger image (stride, offset) encode the sub-image; the project loader reads the file back exactly', async () => {
  const big = image(50, 40, 9);
  const [x, y, w, h] = [13, 7, 21, 17];
  const sub = new Uint8Array(w * h * 3);
  for (let r = 0; r < h; r++) sub.set(big.data.subarray(((y + r) * 50 + x) * 3, ((y + r) * 50 + x + w) * 3), r * w * 3);
  for (const compression of PNG_COMPRESSIONS) {
    const png = encodeRgbPng(big.data, w, h, compression, 50 * 3, (y * 50 + x) * 3);
    assert.ok(png.equals(encodeRgbPng(sub, w, h, compression)), `${compression}: strided encode differs from the cropped one`);
    const file = join(tmp.dir, `sub-${compression}.png`);
    writeFileSync(file, png);
    const back = await decodeImage(file);
    assert.equal([back.width, back.height], [w, h]);
    assert.ok(Buffer.from(back.data).equals(Buffer.from(sub)), `${compression}: decodeImage pixels differ`);
  }
});

test('encodeRgbPng: bad sizes, rows outside the buffer and unknown modes are errors that say what is wrong', () => {
  const data = new Uint8Array(12);
  assert.throws(() => encodeRgbPng(data, 0, 1), /size must be whole and positive/);
  assert.throws(() => encodeRgbPng(data, 2, 3), /do not fit in 12 bytes/);
  assert.throws(() => encodeRgbPng(data, 2, 2, 'none', 5), /do not fit/);
  assert.throws(() => encodeRgbPng(data, 2, 2, 'best' as never), /not one of none, fast, small/);
});

test('areaPyramid: every factor equals areaDownsample exactly (powers of two from shared sums, 3/6/12, 5, sizes the factors do not divide); factor 1 is the image itself', () => {
  const cases: { w: number; h: number; factors: number[] }[] = [
    { w: 256, h: 256, factors: [1, 2, 4, 8] },
    { w: 37, h: 29, factors: [2, 4, 8] },
    { w: 72, h: 48, factors: [1, 3, 6, 12] },
    { w: 25, h: 35, factors: [5] },
    { w: 64, h: 64, factors: [8, 2, 4] },
  ];
  for (const { w, h, factors } of cases) {
    // Extremes included: all 255 blocks must not overflow, all-halves must round up.
    const img = image(w, h, w + h);
    img.data.fill(255, 0, Math.min(img.data.length, w * 3 * 8));
    const got = areaPyramid(img, factors);
    factors.forEach((f, i) => {
      if (f === 1) return assert.ok(got[i] === img, 'factor 1 returns the image');
      const want = areaDownsample(img, f);
      assert.equal([got[i].width, got[i].height], [want.width, want.height], `${w}x${h} factor ${f} size`);
      assert.ok(Buffer.from(got[i].data).equals(Buffer.from(want.data)), `${w}x${h} factor ${f}: pixels differ from areaDownsample`);
    });
  }
  assert.throws(() => areaPyramid(image(4, 4, 1), [2.5]), /whole numbers/);
  assert.throws(() => areaPyramid(image(4, 4, 1), [8]), /smaller than one 8x8 block/);
});

test('areaPyramid of a view inside a larger image (the tiler at factor 1) equals the pyramid of the cropped copy (areaResample at factor 1), for every factor set and awkward offsets', () => {
  const big = image(83, 61, 11);
  const cases: { x: number; y: number; w: number; h: number; factors: number[] }[] = [
    { x: 0, y: 0, w: 64, h: 48, factors: [1, 2, 4, 8] },
    { x: 13, y: 7, w: 37, h: 29, factors: [1, 2, 4, 8] },
    { x: 5, y: 3, w: 72, h: 48, factors: [1, 3, 6, 12] },
    { x: 1, y: 2, w: 25, h: 35, factors: [5, 1] },
    { x: 19, y: 13, w: 64, h: 48, factors: [8, 2, 4, 1] },
    { x: 82, y: 60, w: 1, h: 1, factors: [1] },
  ];
  for (const { x, y, w, h, factors } of cases) {
    const view = viewOf(big, x, y, w, h);
    const crop = areaResample(big, x, y, 1, w, h);
    const got = areaPyramid(view, factors).map(asView);
    const want = areaPyramid(crop, factors);
    factors.forEach((f, i) => {
      const v = got[i];
      if (f === 1) assert.ok(v === view, 'factor 1 returns the view itself');
      assert.equal([v.width, v.height], [want[i].width, want[i].height], `${w}x${h}@${x},${y} factor ${f} size`);
      const rows = Buffer.concat(
        Array.from({ length: v.height }, (_, r) =>
          Buffer.from(v.data.subarray(v.offset + r * v.stride, v.offset + r * v.stride + v.width * 3)),
        ),
      );
      assert.ok(rows.equals(Buffer.from(want[i].data)), `${w}x${h}@${x},${y} factor ${f}: pixels differ from the cropped pyramid`);
      const png = encodeRgbPng(v.data, v.width, v.height, 'none', v.stride, v.offset);
      assert.ok(
        png.equals(encodeRgbPng(want[i].data, want[i].width, want[i].height, 'none')),
        `${w}x${h}@${x},${y} factor ${f}: PNG differs`,
      );
    });
  }
  // Scratch sums are reused between calls: a smaller pyramid after a larger one must not see the larger one's sums.
  const small = image(6, 6, 3);
  assert.ok(Buffer.from(areaPyramid(small, [2])[0].data).equals(Buffer.from(areaDownsample(small, 2).data)), 'after a larger call');
  assert.throws(() => viewOf(big, 80, 0, 4, 1), /not a whole-pixel rectangle inside the 83x61 image/);
  assert.throws(() => viewOf(big, 0.5, 0, 4, 1), /whole-pixel/);
});

test.run();
