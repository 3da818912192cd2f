// Mean absolute error: mean of |a - b|; gradient sign(a - b)/n to a, the negative to b.
// sign(0) = 0, so a tie gets no gradient (as PyTorch). Entry points and layouts:
// loss/elementwise_loss.wgsl.
#include "loss/elementwise_loss.wgsl"

fn loss_term(d: f32) -> f32 { return abs(d); }
fn loss_slope(d: f32) -> f32 { return sign(d); }
