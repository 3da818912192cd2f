// PyTorch's adaptive pooling bins along one axis, included with `#include "pool/adaptive_bins.wgsl"`.
// Output index o of `out` covers inputs [floor(o*in/out), ceil((o+1)*in/out)); bins may overlap.

fn bin_start(o: u32, in_len: u32, out_len: u32) -> u32 {
  return (o * in_len) / out_len;
}

fn bin_end(o: u32, in_len: u32, out_len: u32) -> u32 {
  return ((o + 1u) * in_len + out_len - 1u) / out_len;
}

// The outputs whose bins contain input i, inclusive: o >= floor(i*out/in) is exactly
// bin_end(o) > i, and o <= ceil((i+1)*out/in) - 1 is exactly bin_start(o) <= i.
fn bins_containing(i: u32, in_len: u32, out_len: u32) -> vec2<u32> {
  let first = (i * out_len) / in_len;
  let last = ((i + 1u) * out_len + in_len - 1u) / in_len - 1u;
  return vec2<u32>(first, min(last, out_len - 1u));
}
