// Mean squared error: mean of (a - b)^2; gradient 2(a - b)/n to a (the 2 and 1/n travel in
// `scale`), the negative to b. Entry points and layouts: loss/elementwise_loss.wgsl.
#include "loss/elementwise_loss.wgsl"

fn loss_term(d: f32) -> f32 { return d * d; }
fn loss_slope(d: f32) -> f32 { return d; }
