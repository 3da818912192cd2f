// A (row, col) position in a row-major array of `width` columns, advanced by a fixed stride
// without dividing: integer division is slow on CPU adapters (and guarded against zero by the
// WGSL compiler), so loops that step a flat index by WG use this instead of i / width, i % width.
// Included with `#include "include/strided_cursor.wgsl"`.

struct Cursor { row: u32, col: u32 };

// The position of flat index i.
fn cursor_at(i: u32, width: u32) -> Cursor {
  return Cursor(i / width, i % width);
}

// The position `step` (itself a cursor_at(stride, width)) further on.
fn cursor_advance(c: Cursor, step: Cursor, width: u32) -> Cursor {
  var next = Cursor(c.row + step.row, c.col + step.col);
  if (next.col >= width) {
    next.col -= width;
    next.row += 1u;
  }
  return next;
}
