/**
 * Reverse-mode autograd on a tape.
 *
 * An op that produces `y` from inputs calls `record(op, y, inputs, backward, saved)` when any
 * input requires grad (and grad is enabled). `backward(loss)` walks the graph from `loss` in
 * reverse topological order, calls each node's rule once with the summed upstream gradient,
 * and accumulates into the `.grad` of leaf tensors (parameters), so several backward calls add
 * up (gradient accumulation). Zeroing is explicit (`zeroGrad`).
 *
 * Memory: a node's saved tensors are released right after its rule has run, and the node is
 * detached from its output, so the whole graph is gone after `backward()`. A graph that is
 * never differentiated is released when its output tensor is garbage-collected, or at once by
 * `releaseGraph(t)`.
 */
import { Tensor, tidy, shapeStr, type GradNode } from './tensor.ts';
import { ShapeError } from './errors.ts';
import { accumulate } from './accumulate.ts';
import { opScope } from './runtime.ts';

export type { GradNode };

let gradEnabled = true;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Run fn with graph recording off (the frozen teacher, evaluation). */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/** True when an op with these inputs must record its backward. */
export function needsGrad(...inputs: (Tensor | null | undefined)[]): boolean {
  return gradEnabled && inputs.some((t) => t?.requiresGrad);
}

/** Keep `t`'s contents for the backward pass, whatever happens to the handle `t`. */
export function save(t: Tensor): Tensor {
  return t.saveHandle();
}

const orphanGraphs = new FinalizationRegistry<Tensor[]>((saved) => {
  for (const t of saved) t.dispose();
});

/** Attach a backward rule to `output`. Call only when `needsGrad(...inputs)`. */
export function record(op: string, output: Tensor, inputs: (Tensor | null)[], backward: GradNode['backward'], saved: Tensor[] = []) {
  output.requiresGrad = true;
  output.node = { op, inputs, backward, saved };
  orphanGraphs.register(output, saved, output);
}

/** Drop the graph behind `t` without differentiating it. */
export function releaseGraph(t: Tensor) {
  const order = topoOrder(t);
  for (const x of order) releaseNode(x);
}

function releaseNode(t: Tensor) {
  if (!t.node) return;
  for (const s of t.node.saved) s.dispose();
  t.node = null;
  orphanGraphs.unregister(t);
}

/** Tensors with nodes reachable from root, inputs before outputs. Iterative (deep nets). */
function topoOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const visited = new Set<Tensor>();
  const stack: [Tensor, boolean][] = [[root, false]];
  while (stack.length) {
    const [t, expanded] = stack.pop()!;
    if (expanded) {
      order.push(t);
      continue;
    }
    if (visited.has(t) || !t.node) continue;
    visited.add(t);
    stack.push([t, true]);
    for (const inp of t.node.inputs) if (inp && inp.node && !visited.has(inp)) stack.push([inp, false]);
  }
  return order;
}

/**
 * Differentiate `root`. Without `gradRoot`, root must hold one element (a loss) and its
 * gradient is 1. Leaf gradients accumulate into `.grad`; the graph is released.
 */
export function backward(root: Tensor, gradRoot?: Tensor) {
  if (!root.requiresGrad)
    throw new Error(
      `backward(): ${root.label} does not require grad (was it computed under noGrad, or from tensors without requiresGrad?)`,
    );
  if (!gradRoot && root.size !== 1)
    throw new ShapeError('backward', `root ${shapeStr(root.shape)} is not a scalar; pass its gradient explicitly`);
  const grads = new Map<Tensor, Tensor>();
  const seed = gradRoot ? gradRoot.view(gradRoot.shape).keep() : Tensor.full(root.shape, 1).keep();
  if (!root.node) {
    addToLeaf(root, seed);
    return;
  }
  grads.set(root, seed);
  const order = topoOrder(root);
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    for (let k = order.length - 1; k >= 0; k--) {
      const t = order[k];
      const node = t.node!;
      const g = grads.get(t);
      grads.delete(t);
      if (!g) {
        releaseNode(t);
        continue;
      }
      let inputGrads: (Tensor | null)[];
      try {
        inputGrads = opScope(node.op, () => tidy(() => node.backward(g)));
      } finally {
        g.dispose();
      }
      releaseNode(t);
      for (const gi of inputGrads) gi?.keep();
      const bad = node.inputs.findIndex((inp, i) => inp?.requiresGrad && inputGrads[i] && inputGrads[i]!.size !== inp.size);
      if (bad >= 0) {
        const msg = `gradient ${shapeStr(inputGrads[bad]!.shape)} does not match input ${shapeStr(node.inputs[bad]!.shape)}`;
        for (const gi of inputGrads) gi?.dispose();
        throw new ShapeError(`${node.op} backward`, msg);
      }
      node.inputs.forEach((inp, i) => {
        const gi = inputGrads[i];
        if (!gi) return;
        if (!inp || !inp.requiresGrad) {
          gi.dispose();
          return;
        }
        if (inp.node) {
          const prevG = grads.get(inp);
          if (prevG) {
            opScope('accumulate', () => accumulate(prevG, gi));
            gi.dispose();
          } else grads.set(inp, gi);
        } else addToLeaf(inp, gi);
      });
    }
  } finally {
    gradEnabled = prev;
    for (const g of grads.values()) g.dispose();
    // After a rule threw, the nodes not yet reached still hold saved tensors: drop them too, so
    // a caller that catches the error (and goes on training) does not leak GPU memory.
    for (const t of order) releaseNode(t);
  }
}

function addToLeaf(leaf: Tensor, g: Tensor) {
  if (leaf.grad) {
    opScope('accumulate', () => accumulate(leaf.grad!, g));
    g.dispose();
  } else {
    leaf.grad = g.shape.length === leaf.shape.length && g.shape.every((d, i) => d === leaf.shape[i]) ? g : reshapeOwned(g, leaf.shape);
  }
}

function reshapeOwned(g: Tensor, shape: readonly number[]): Tensor {
  const v = g.view(shape).keep();
  g.dispose();
  return v;
}

/** Set `.grad` of each tensor to null (freeing it). */
export function zeroGrad(params: Iterable<Tensor>) {
  for (const p of params) {
    p.grad?.dispose();
    p.grad = null;
  }
}

/** A handle on the same data with no graph: gradients stop here. */
export function detach(t: Tensor): Tensor {
  const d = t.view(t.shape);
  d.name = t.name;
  return d;
}
