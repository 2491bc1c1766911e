"""`am.derive(loss_fn, params, update=...)`: a training step written out as readable NumPy, compiled.

    derived = am.derive(loss_fn, {"synapse_0": w0, "synapse_1": w1}, update=SGD([w0, w1], lr=10))
    print(derived.equations)      # forward, backward and update, as the document would write them
    print(derived.source)         # the same program with preallocated buffers: what actually runs
    for _ in range(steps):
        derived.function()        # one step: forward, backward, .grad set, w -= lr * d_w in place
    derived.loss()                # the loss of the last step, computed only when asked

How it works, in named steps:
1. record: run `loss_fn` (forward) in this thread's tracing mode, in which every op whose inputs
   trace back to a tensor `loss_fn` did not create keeps its inputs even when nothing requires grad
   (and `detach()` is a stop-gradient op), twice: two recordings that make other constants (a random
   draw) are refused; then the ops' own VJPs on Tensors (`create_graph`), so the
   gradient is a graph of the same primitives; nothing here knows an op's derivative by name. No
   user tensor is changed.
2. build the program: one `Value` per graph node, simplified as it is built: parts computed from
   constants alone are folded; `x * 1` is dropped; scalings by uniform powers of two combine (they
   are exact), so the ½ of ½·SSE meets the 2 of the square and the gradient becomes `p - y`;
   equal computations are shared. σ'(z) is `s * (1 - s)` from the saved output because that is
   how the op table writes the sigmoid's VJP.
3. name: parameters and data by their names, forward results by op kind (`matmul_1`,
   `sigmoid_1`), gradients as `d_<what>`.
4. plan: every result gets a preallocated buffer (`out=`), reusing buffers whose values are dead
   (in place where NumPy allows); views of the inputs are remade only when an input array is
   replaced; values only the loss needs go to a separate `loss()` computed on demand from the step's
   own buffers (those that read an input stay in the step: an update or a batch written in place
   would change what they read); the updates run last.
5. render the plan twice: `.equations` (plain NumPy expressions for reading, which run with only
   `np` in scope: the few helpers NumPy lacks are defined in the text, constants printed or taken
   as keyword arguments listed on `.equations_arguments`, shapes in comments) and `.source` (the
   buffered form), and compile `.source` into `.function`.

Numbers: the same NumPy calls on the same values in the same order as eager mode, so eager's
numbers bit for bit (tests check it over many steps). Two stated exceptions: a combined power-of-two
scaling differs from eager only where eager's intermediate over- or underflows (|p - y| > 2**1022);
2-D products run as `np.dot`, which calls the same BLAS routine as eager's `np.matmul` for
contiguous or transposed operands (equal bits, tested); for other strided inputs the summation
order may differ (agreement to ~1e-15 relative).

What a step reads anew at every call: each parameter's and each data tensor's array (a Tensor `loss_fn`
uses but did not create, even one it reaches only through data-only ops or one that requires grad
without being a parameter: assign `x.data = next_batch`), and, with `update=`, whether the optimizer's
lr, momentum and frozen entries are still the objects compiled in (if not, the step refuses: derive
again), and whether the arrays `loss_fn` captures from closures, globals or objects (listed on
`.constants`) still have the bits they had (if not, the step refuses naming one: derive again). Fixed at
derive time: constants `loss_fn` creates itself, and those captured arrays; shapes and dtypes (a step
refuses, naming the tensor, when one changes); the layout of views of inputs (a reshape that has become
a copy is refused). Masks from ordering comparisons, `where`'s condition, sort orders, argmax/argmin
positions (integer values of the program) with `take_along_axis` gathers, class labels of
`cross_entropy` and clip bounds given as Tensors are ops, recomputed at every call. A value Python reads
while recording (`.item()`, `if (t > 0).any()`, `t.numpy()`, `t == u`, a Tensor index) would be frozen:
a `TraceWarning` says so (`fit` then trains eagerly), and random draws from `np.random` are refused.
Gradients are set, not accumulated, as buffers the next step overwrites, so one derived step runs in one
thread at a time (a second thread gets a DeriveError; derive one per thread to train in several). An
in-place update ticks the engine's write clock for the parameters, as `w.data -= ...` does, so a graph
recorded before the step refuses to backward through old values. docs/compiled-step.md says all this for
users.

One module per pass, in the order above: `record.py`, `program.py`, `names.py`, `plan.py`,
`render.py` and `step.py` (the `Derived` step and `derive`); `refusals.py` holds what every pass
may raise or warn (DeriveError, TraceWarning, the value reads collected for `fit`). Each module
imports only from those before it.
"""

from __future__ import annotations

from .refusals import DeriveError, TraceWarning, collected_value_reads
from .step import Derived, derive

__all__ = ["DeriveError", "TraceWarning", "Derived", "collected_value_reads", "derive"]
