/**
 * The FLOP / parameter / activation counter against counts worked out by hand (the arithmetic
 * is in the comments, from PyTorch's output-size formula and the conventions stated in
 * models/flops.ts). No GPU needed.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { countFlops, convOutSize, type LayerCount } from '../../models/flops.ts';
import { RBD_ARCH, type ResNetArch } from '../../models/arch.ts';

// planes 4,8; one block per stage; GroupNorm(2); 3 classes; input [2,3,13,11] (odd, H != W).
const tiny: ResNetArch = { planes: [4, 8], layers: [1, 1], norm: 'group', groups: 2, numClasses: 3, inChannels: 3 };

/** [name, output, params, forward, backward] worked out by hand for `tiny` at 13x11, batch 2. */
const HAND: [string, number[], number, number, number][] = [
  // stem conv 7x7/2 p3: OH = floor((13+6-6-1)/2)+1 = 7, OW = floor((11+6-6-1)/2)+1 = 6;
  // 2*4*7*6 = 336 outputs, MACs = 336 * 3*49 = 49392; no image gradient: backward = forward.
  ['conv_1', [2, 4, 7, 6], 4 * 3 * 49, 2 * 49392, 2 * 49392],
  ['norm_1', [2, 4, 7, 6], 8, 8 * 336, 13 * 336],
  ['relu', [2, 4, 7, 6], 0, 336, 336],
  // max-pool 3x3/2 p1 on 7x6 -> 4x3. Taps inside per output row: [-1,2)->2, [1,4)->3, [3,6)->3,
  // [5,8)->2: 10; per column: 2 + 3 + 3 = 8; 80 taps per map, 12 outputs per map, 8 maps:
  // compares 8*(80-12) = 544, backward 8*12 = 96.
  ['maxpool', [2, 4, 4, 3], 0, 544, 96],
  // layer_1.0: 4 -> 4, stride 1, no downsample; 96 outputs, MACs 96*4*9 = 3456.
  ['layer_1.0.conv_1', [2, 4, 4, 3], 144, 6912, 13824],
  ['layer_1.0.norm_1', [2, 4, 4, 3], 8, 768, 1248],
  ['layer_1.0.relu_1', [2, 4, 4, 3], 0, 96, 96],
  ['layer_1.0.conv_2', [2, 4, 4, 3], 144, 6912, 13824],
  ['layer_1.0.norm_2', [2, 4, 4, 3], 8, 768, 1248],
  ['layer_1.0.add', [2, 4, 4, 3], 0, 96, 0],
  ['layer_1.0.relu_2', [2, 4, 4, 3], 0, 96, 96],
  // layer_2.0: 4 -> 8, stride 2 on 4x3: OH = floor((4+2-2-1)/2)+1 = 2, OW = floor((3+2-2-1)/2)+1 = 2;
  // 64 outputs; conv_1 MACs 64*4*9 = 2304, conv_2 MACs 64*8*9 = 4608;
  // downsample 1x1/2 on 4x3: floor(3/2)+1 = 2, floor(2/2)+1 = 2, MACs 64*4 = 256.
  ['layer_2.0.conv_1', [2, 8, 2, 2], 288, 4608, 9216],
  ['layer_2.0.norm_1', [2, 8, 2, 2], 16, 512, 832],
  ['layer_2.0.relu_1', [2, 8, 2, 2], 0, 64, 64],
  ['layer_2.0.conv_2', [2, 8, 2, 2], 576, 9216, 18432],
  ['layer_2.0.norm_2', [2, 8, 2, 2], 16, 512, 832],
  ['layer_2.0.downsample.0', [2, 8, 2, 2], 32, 512, 1024],
  ['layer_2.0.downsample.1', [2, 8, 2, 2], 16, 512, 832],
  ['layer_2.0.add', [2, 8, 2, 2], 0, 64, 0],
  ['layer_2.0.relu_2', [2, 8, 2, 2], 0, 64, 64],
  // average pool 2x2 -> 1x1: one bin of 4 per output, 16 outputs.
  ['avgpool', [2, 8, 1, 1], 0, 64, 64],
  // fc 8 -> 3 on 2 rows: MACs 48; forward 96 + 6 bias adds; backward 2*96 + 6.
  ['fc', [2, 3], 27, 102, 198],
];

test('countFlops planes=[4,8] layers=[1,1] GN(2) input=[2,3,13,11]: every layer as hand-computed', () => {
  const r = countFlops(tiny, [13, 11], { batch: 2 });
  assert.equal(
    r.layers.map((l) => l.name),
    HAND.map((h) => h[0]),
    'layer order and names',
  );
  HAND.forEach(([name, output, params, fwd, bwd], i) => {
    const l: LayerCount = r.layers[i];
    assert.equal(l.output, output, `${name} output`);
    assert.is(l.params, params, `${name} params`);
    assert.is(l.forwardFlops, fwd, `${name} forward FLOPs`);
    assert.is(l.backwardFlops, bwd, `${name} backward FLOPs`);
    assert.is(l.activationBytes, 4 * output.reduce((a, b) => a * b, 1), `${name} activation bytes`);
  });
  const sum = (k: 2 | 3 | 4) => HAND.reduce((s, h) => s + h[k], 0);
  assert.is(r.total.params, sum(2));
  assert.is(r.total.forwardFlops, sum(3));
  assert.is(r.total.backwardFlops, sum(4));
  // input 2*3*13*11 = 858 values plus every layer's output, 4 bytes each.
  assert.is(r.total.activationBytes, 4 * (858 + HAND.reduce((s, h) => s + h[1].reduce((a, b) => a * b, 1), 0)));
  assert.is(r.byKind.conv.forward, 2 * 49392 + 6912 * 2 + 4608 + 9216 + 512);
  assert.is(r.byKind.add.backward, 0);
});

test('countFlops inputGrad=true doubles only the stem conv backward', () => {
  const a = countFlops(tiny, [13, 11], { batch: 2 });
  const b = countFlops(tiny, [13, 11], { batch: 2, inputGrad: true });
  assert.is(b.layers[0].backwardFlops, 4 * 49392);
  assert.is(b.total.backwardFlops - a.total.backwardFlops, 2 * 49392);
});

test('countFlops rbd preset 224x224: parameter count and stage-4 shape by hand', () => {
  const r = countFlops(RBD_ARCH, [224, 224]);
  // stem 32*3*49 + GN 64; layer_1: 2 convs 32*32*9 + 2 GN 64; layers 2-4 (in->out): convs
  // out*in*9 + out*out*9, downsample out*in, 3 GNs 2*out each; fc 256*3 + 3.
  const stage = (i: number, o: number) => o * i * 9 + o * o * 9 + o * i + 3 * 2 * o;
  const params = 32 * 3 * 49 + 64 + 2 * 32 * 32 * 9 + 2 * 64 + stage(32, 64) + stage(64, 128) + stage(128, 256) + 256 * 3 + 3;
  assert.is(r.total.params, params);
  // 224 -> conv 112 -> pool 56 -> 56, 28, 14, 7.
  assert.equal(r.layers.find((l) => l.name === 'layer_4.0.relu_2')!.output, [1, 256, 7, 7]);
});

test('convOutSize follows floor((I + 2p - d(k-1) - 1)/s) + 1', () => {
  assert.is(convOutSize(97, 7, 2, 3), 49); // floor(96/2)+1
  assert.is(convOutSize(83, 3, 2, 1, 2), 41); // floor((83+2-4-1)/2)+1 = 40+1
  assert.is(convOutSize(1, 3, 2, 1), 1);
});

test.run();
