"""Shape ops: the same entries moved, repeated, picked or joined (reshape, transpose, indexing,
concatenate, pad, ...), the functional updates (`x.at[i].set(v)`) and NumPy code's in-place updates.

Read each row as in every module of ops/: name, forward, `vjp(g, ans, *inputs, **params)`. A gather
takes its positions as an input (no gradient), so a traced step recomputes them at every call.
Composites (squeeze, repeat, tile, split, sort, ...) are built from rows and need no VJP.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .. import tensor as _tensor
from ..errors import GraphError, ShapeError, checked_axis
from ..tensor import Op, Tensor, per_input, read_value, rebase, unwrap
from ._helpers import _any_tensor, _as_tensor, _is_basic_index, _poly, _shape_after, plain_index
from ._registry import register
from .compare import _positions, argsort_op, compare, where_op
from .creation import zeros
from .elementwise import astype_op, mul
from .kernels import _broadcast_array


_broadcast_to = _poly(_broadcast_array, lambda a, shape: broadcast_to_op(a, shape=tuple(shape)))


def _scatter_array(g: np.ndarray, index: Any, shape: tuple) -> np.ndarray:
    out = np.zeros(shape, dtype=g.dtype)
    if _is_basic_index(index):
        out[index] = g
    else:
        np.add.at(out, index, g)  # repeated fancy indices add up
    return out


_scatter = _poly(_scatter_array, lambda g, index, shape: scatter(g, index=index, shape=shape))


# (its forward is the array path's own, so that a recorded gradient (create_graph, a compiled step) has
# the layouts eager's has: a small broadcast of a scalar is a filled array there, and results follow it)
broadcast_to_op: Op = Op("broadcast_to", _broadcast_array,
                     lambda g, ans, x, shape: (g,))  # the engine sums g back to x's shape
reshape_op = Op("reshape", lambda x, shape: np.reshape(x, shape), lambda g, ans, x, shape: (g.reshape(x.shape),))
transpose_op = Op("transpose", lambda x, axes=None: np.transpose(x, axes),
                  lambda g, ans, x, axes=None: (g.transpose(None if axes is None else
                                                            tuple(np.argsort(np.mod(axes, len(axes))))),))
getitem = Op("getitem", lambda x, index: x[index], lambda g, ans, x, index: (_scatter(g, index, x.shape),))
scatter: Op = Op("scatter", _scatter_array, lambda g, ans, x, index, shape: (g[index],))  # getitem's adjoint


def _concatenate_vjp(g, ans, *xs, axis=0):
    if axis is None:  # NumPy flattened every input first: hand each its stretch, in its shape
        bounds = np.cumsum([0] + [x.size for x in xs])
        return tuple(g[int(lo):int(hi)].reshape(x.shape) for x, lo, hi in zip(xs, bounds[:-1], bounds[1:]))
    axis = axis % ans.ndim
    bounds = np.cumsum([0] + [x.shape[axis] for x in xs])
    lead = (slice(None),) * axis
    return tuple(g[lead + (slice(int(lo), int(hi)),)] for lo, hi in zip(bounds[:-1], bounds[1:]))


def _stack_vjp(g, ans, *xs, axis=0):
    lead = (slice(None),) * (axis % ans.ndim)
    return tuple(g[lead + (i,)] for i in range(len(xs)))


_concatenate = Op("concatenate", lambda *xs, axis=0: np.concatenate(xs, axis=axis), _concatenate_vjp)
_stack = Op("stack", lambda *xs, axis=0: np.stack(xs, axis=axis), _stack_vjp)


def concatenate(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    return _concatenate(*tensors, axis=axis)
register(concatenate, np.concatenate)


def stack(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    return _stack(*tensors, axis=axis)
register(stack, np.stack)


def _getitem(x: Any, index: Any) -> Tensor:
    for part in index if isinstance(index, tuple) else (index,):
        read_value(part, "index")  # positions decide which entries: a tracer must know
    index = plain_index(index, x.shape)
    t = getitem(x, index=index)
    if _is_basic_index(index):  # NumPy gives a view: an in-place change of t must reach x (the in-place updates below)
        t._view = (x, index, _tensor._writes)
    return t


# NumPy's spellings of rows whose parameters NumPy passes by position (am.broadcast_to(x, (2, 3)),
# am.transpose(x, (1, 0)), am.reshape(x, (2, 3))): called as the rows, the position would be an input
def broadcast_to(x: Any, shape: Any) -> Tensor:
    return broadcast_to_op(x, shape=tuple(int(n) for n in np.atleast_1d(shape)))
register(broadcast_to)
register(lambda x, shape: broadcast_to_op(x, shape=tuple(np.atleast_1d(shape))), np.broadcast_to, names=())


def transpose(x: Any, axes: Any = None) -> Tensor:
    return transpose_op(x) if axes is None else transpose_op(x, axes=tuple(int(a) for a in axes))
register(transpose)
register(lambda x, axes=None: transpose_op(x, axes=None if axes is None else tuple(axes)), np.transpose,
         names=())


def reshape(x: Any, *shape: Any) -> Tensor:
    shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
    return reshape_op(x, shape=shape)
register(reshape)
register(lambda x, shape=None, newshape=None, order="C": _reshape_in_order(x, shape if shape is not None else newshape,
                                                                            order), np.reshape, names=())


def _transpose(x: Any, *axes: Any) -> Tensor:
    given = axes[0] if len(axes) == 1 and (axes[0] is None or isinstance(axes[0], (tuple, list))) else axes
    return transpose_op(x, axes=tuple(given) if given else None)


def _swapaxes(x: Any, a: int, b: int) -> Tensor:
    axes = list(range(x.ndim))
    axes[a], axes[b] = axes[b], axes[a]
    return transpose_op(x, axes=tuple(axes))


_flip = _poly(lambda a, axis: np.flip(a, axis), lambda a, axis: a.flip(axis))
_roll = _poly(lambda a, shift, axis: np.roll(a, shift, axis), lambda a, shift, axis: a.roll(shift, axis))


def _stack_last(parts: list) -> Any:
    if _any_tensor(*parts):
        return stack(parts, axis=-1)
    return np.stack(parts, axis=-1)


flip_op = Op("flip", lambda x, axis=None: np.flip(x, axis), lambda g, ans, x, axis=None: (_flip(g, axis),))


def _negated(shift: Any) -> Any:
    return tuple(-s for s in shift) if isinstance(shift, tuple) else -shift


roll_op = Op("roll", lambda x, shift, axis=None: np.roll(x, shift, axis),
             lambda g, ans, x, shift, axis=None: (_roll(g, _negated(shift), axis).reshape(x.shape),))


def _pad_inner(x_shape: tuple, widths: tuple) -> tuple:
    return tuple(slice(before, before + n) for n, (before, _) in zip(x_shape, widths))


pad_op = Op("pad", lambda x, widths, value=0.0: np.pad(x, widths, mode="constant", constant_values=value),
            lambda g, ans, x, widths, value=0.0: (g[_pad_inner(x.shape, widths)],))


def _index_add(x: np.ndarray, values: np.ndarray, index: Any) -> np.ndarray:
    out = x.copy()
    np.add.at(out, index, values)  # repeated indices add up
    return out


def _index_set(x: np.ndarray, values: Any, index: Any) -> np.ndarray:
    out = x.copy()
    out[index] = values
    return out


_index_set_poly = _poly(_index_set, lambda g, values, index: index_set_op(g, values, index=index))
_getitem_poly = _poly(lambda g, index: g[index], lambda g, index: g[index])

index_add_op = Op("index_add", _index_add, per_input(lambda g, ans, x, v, index: g,
                                                     lambda g, ans, x, v, index: _getitem_poly(g, index)))
index_set_op: Op = Op("index_set", _index_set,  # x's gradient is g with the overwritten entries zeroed
                  per_input(lambda g, ans, x, v, index: _index_set_poly(g, 0.0, index),
                            lambda g, ans, x, v, index: _getitem_poly(g, index)))


def _along(positions: np.ndarray, axis: int) -> tuple:
    """The full fancy index that np.take_along_axis(_, positions, axis) reads."""
    grid = np.indices(positions.shape, sparse=True)
    return tuple(positions if a == axis % positions.ndim else grid[a] for a in range(positions.ndim))


def _add_along_array(g: np.ndarray, positions: np.ndarray, axis: int, shape: tuple) -> np.ndarray:
    out = np.zeros(shape, dtype=g.dtype)
    np.add.at(out, _along(positions, axis), g)  # repeated positions add up
    return out


_take_along = _poly(lambda x, positions, axis: np.take_along_axis(x, positions, axis),
                    lambda x, positions, axis: take_along_op(x, positions, axis=axis))
_add_along = _poly(_add_along_array, lambda g, positions, axis, shape: add_along_op(g, positions, axis=axis,
                                                                                       shape=shape))
take_along_op: Op = Op("take_along_axis", lambda x, positions, axis: np.take_along_axis(x, positions, axis),
                       lambda g, ans, x, positions, axis: (_add_along(g, positions, axis, x.shape), None))
add_along_op: Op = Op("add_along_axis", _add_along_array,  # take_along_axis's adjoint
                      lambda g, ans, x, positions, axis, shape: (_take_along(g, positions, axis), None))


def take_along_axis(x: Any, positions: Any, axis: int) -> Tensor:
    """np.take_along_axis: x's entries at integer `positions` (a Tensor from argmax/argsort, or an
    integer array) along axis; the gradient adds back to where each entry came from."""
    x = _as_tensor(x)
    axis = checked_axis(axis, x.ndim, "take_along_axis")
    kind = np.asarray(unwrap(positions)).dtype.kind
    if kind not in "iu":
        raise TypeError(f"take_along_axis: positions must be integers (from am.argmax, am.argsort or an int "
                        f"array), got dtype {np.asarray(unwrap(positions)).dtype}")
    if np.ndim(unwrap(positions)) != x.ndim:
        raise ShapeError(f"take_along_axis: positions of shape {np.shape(unwrap(positions))} into x of shape "
                         f"{x.shape}: they need as many axes as x (argmax with keepdims=True gives that)")
    if not isinstance(positions, Tensor):
        positions = _tensor.constant_positions(positions)
    return take_along_op(x, positions, axis=axis)
register(take_along_axis, np.take_along_axis)


def squeeze(x: Any, axis: Any = None) -> Tensor:
    x = _as_tensor(x)
    return reshape_op(x, shape=_shape_after(np.squeeze, x.shape, axis, who="squeeze"))
register(squeeze, np.squeeze)


def expand_dims(x: Any, axis: Any) -> Tensor:
    x = _as_tensor(x)
    return reshape_op(x, shape=_shape_after(np.expand_dims, x.shape, axis, who="expand_dims"))
register(expand_dims, np.expand_dims, names=("expand_dims", "unsqueeze"))


def _reshape_in_order(x: Any, shape: Any, order: str = "C") -> Tensor:
    """np.reshape with NumPy's `order`: 'C' reads and writes the last axis fastest, 'F' the first (the
    reshape of the transpose, transposed back), 'A' is 'F' for values laid out Fortran-contiguously."""
    x = _as_tensor(x)
    shape = tuple(np.atleast_1d(shape).astype(int)) if np.ndim(shape) else (int(shape),)
    if order == "A":
        flags = np.asarray(unwrap(x)).flags
        order = "F" if flags.f_contiguous and not flags.c_contiguous else "C"
    if order == "C":
        return reshape_op(x, shape=shape)
    if order != "F":
        raise ValueError(f"reshape: order={order!r}; NumPy takes 'C', 'F' or 'A'")
    target = _shape_after(np.reshape, x.shape, shape, who="reshape")
    return transpose_op(reshape_op(transpose_op(x), shape=target[::-1]))


def ravel(x: Any, order: str = "C") -> Tensor:
    return _reshape_in_order(x, (-1,), order)
register(ravel, np.ravel, names=("ravel", "flatten"))


def flip(x: Any, axis: Any = None) -> Tensor:
    return flip_op(x, axis=tuple(axis) if isinstance(axis, list) else axis)
register(flip, np.flip)


def roll(x: Any, shift: Any, axis: Any = None) -> Tensor:
    listed = (lambda v: tuple(v) if isinstance(v, (list, tuple)) else v)
    return roll_op(x, shift=listed(shift), axis=listed(axis))
register(roll, np.roll)


def moveaxis(x: Any, source: Any, destination: Any) -> Tensor:
    x = _as_tensor(x)
    sources = [checked_axis(a, x.ndim, "moveaxis") for a in np.atleast_1d(source)]
    destinations = [checked_axis(a, x.ndim, "moveaxis") for a in np.atleast_1d(destination)]
    if len(sources) != len(destinations) or len(set(sources)) != len(sources):
        raise ShapeError(f"moveaxis: shape {x.shape}: source {source} and destination {destination} must be "
                         f"distinct axes, as many of each")
    order = [a for a in range(x.ndim) if a not in sources]
    for d, s in sorted(zip(destinations, sources)):
        order.insert(d, s)
    return transpose_op(x, axes=tuple(order))
register(moveaxis, np.moveaxis)


def swapaxes(x: Any, axis1: int, axis2: int) -> Tensor:
    x = _as_tensor(x)
    return x.swapaxes(checked_axis(axis1, x.ndim, "swapaxes"), checked_axis(axis2, x.ndim, "swapaxes"))
register(swapaxes, np.swapaxes)


def _gather(x: Tensor, axis: int, positions: np.ndarray) -> Tensor:
    return _getitem(x, (slice(None),) * axis + (positions,))


def repeat(x: Any, repeats: Any, axis: int | None = None) -> Tensor:
    """np.repeat, as indexing with repeated positions (the gradient adds the copies up)."""
    x = _as_tensor(x)
    if axis is None:
        x, axis = ravel(x), 0
    axis = checked_axis(axis, x.ndim, "repeat")
    try:
        positions = np.repeat(np.arange(x.shape[axis]), repeats)
    except ValueError as error:
        raise ShapeError(f"repeat: shape {x.shape}, repeats {repeats} along axis {axis}: {error}") from error
    return _gather(x, axis, positions)
register(repeat, np.repeat)


def tile(x: Any, reps: Any) -> Tensor:
    """np.tile, as a broadcast: each axis n becomes (r, n), then the pairs merge into r * n."""
    x = _as_tensor(x)
    reps = tuple(np.atleast_1d(reps).astype(int))
    depth = max(x.ndim, len(reps))
    shape = (1,) * (depth - x.ndim) + x.shape
    reps = (1,) * (depth - len(reps)) + reps
    interleaved = reshape_op(x, shape=tuple(v for n in shape for v in (1, n)))
    spread = interleaved.broadcast_to(tuple(v for r, n in zip(reps, shape) for v in (r, n)))
    return reshape_op(spread, shape=tuple(r * n for r, n in zip(reps, shape)))
register(tile, np.tile)


_PICKING_MODES = ("edge", "reflect", "symmetric", "wrap")  # pad with existing entries: indexing


def _pad_widths(x: Tensor, pad_width: Any) -> tuple:
    try:
        widths = tuple(tuple(int(w) for w in pair) for pair in np.broadcast_to(pad_width, (x.ndim, 2)))
    except ValueError as error:
        raise ShapeError(f"pad: pad_width {pad_width!r} for shape {x.shape}: expected an int, a (before, after) "
                         f"pair or one pair per axis") from error
    if any(w < 0 for pair in widths for w in pair):
        raise ValueError(f"pad: pad_width {pad_width!r} has a negative width")
    return widths


def _median(x: Tensor, axis: int) -> Tensor:
    """The median along axis (keepdims): the middle of the sorted entries, the mean of the two middle ones."""
    n = x.shape[axis]
    ordered = sort(x, axis=axis)
    middle = sorted({(n - 1) // 2, n // 2})
    lead = (slice(None),) * axis
    value = _getitem(ordered, lead + (middle,)).mean(axis=axis, keepdims=True)
    # NaN where the axis holds a NaN, as NumPy's (a sort puts NaNs last; the middle would skip them)
    last = _getitem(ordered, lead + ([n - 1],))
    return where_op(compare(last, last, rule="<="), value, np.nan)


_STATISTICS = {"maximum": lambda x, axis: x.max(axis=axis, keepdims=True),
               "minimum": lambda x, axis: x.min(axis=axis, keepdims=True),
               "mean": lambda x, axis: x.mean(axis=axis, keepdims=True), "median": _median}


def _padding(x: Tensor, axis: int, width: int, side: int, mode: str, end_value: float) -> Tensor:
    """The block added on one side (0 before, 1 after) of axis, for the modes that compute values."""
    shape = x.shape[:axis] + (width,) + x.shape[axis + 1:]
    if mode in _STATISTICS:
        return _STATISTICS[mode](x, axis).broadcast_to(shape)
    # linear_ramp: from end_value at the outer end to the edge entry next to the data (NumPy's linspace)
    edge = _getitem(x, (slice(None),) * axis + ([0] if side == 0 else [-1],))
    weights = (np.arange(width) if side == 0 else np.arange(width - 1, -1, -1)) / width
    weights = weights.reshape((width,) + (1,) * (x.ndim - axis - 1))
    return edge * weights + end_value * (1 - weights)


def pad(x: Any, pad_width: Any, mode: str = "constant", constant_values: float = 0.0,
        end_values: float = 0.0) -> Tensor:
    """np.pad. 'constant' is a row of its own; 'edge', 'reflect', 'symmetric' and 'wrap' pick existing
    entries, so they are indexing (the gradient adds the copies up); 'maximum', 'minimum', 'mean',
    'median' and 'linear_ramp' pad with values computed from the whole axis (NumPy's default
    stat_length), axis after axis as NumPy does, so the gradient flows through those computations."""
    x = _as_tensor(x)
    widths = _pad_widths(x, pad_width)
    if mode == "constant":
        return pad_op(x, widths=widths, value=float(constant_values))
    if mode not in _PICKING_MODES and mode not in _STATISTICS and mode != "linear_ramp":
        raise ValueError(f"pad: mode {mode!r} is not supported; use one of 'constant', "
                         f"{', '.join(map(repr, _PICKING_MODES))}, "
                         f"{', '.join(map(repr, _STATISTICS))} or 'linear_ramp'")
    for axis, pair in enumerate(widths):
        if mode in _PICKING_MODES:
            try:
                positions = np.pad(np.arange(x.shape[axis]), pair, mode=mode)  # type: ignore[call-overload]
            except ValueError as error:
                raise ShapeError(f"pad: mode {mode!r} on axis {axis} of shape {x.shape}: {error}") from error
            x = _gather(x, axis, positions)
        elif any(pair):
            if x.shape[axis] == 0:
                raise ShapeError(f"pad: mode {mode!r} on axis {axis} of shape {x.shape}: no entries to compute from")
            blocks = [_padding(x, axis, w, side, mode, float(end_values)) for side, w in enumerate(pair) if w]
            x = concatenate(([blocks[0]] if pair[0] else []) + [x] + ([blocks[-1]] if pair[1] else []), axis=axis)
    return x
register(pad, np.pad)


def _split_by(numpy_split: Any, x: Any, indices_or_sections: Any, axis: int) -> list[Tensor]:
    x = _as_tensor(x)
    who = numpy_split.__name__
    axis = checked_axis(axis, x.ndim, who)
    try:
        parts = numpy_split(np.arange(x.shape[axis]), indices_or_sections)
    except ValueError as error:
        raise ShapeError(f"{who}: axis {axis} of shape {x.shape} into {indices_or_sections}: {error}") from error
    lead = (slice(None),) * axis
    bounds = np.cumsum([0] + [len(p) for p in parts])
    return [_getitem(x, lead + (slice(int(lo), int(hi)),)) for lo, hi in zip(bounds[:-1], bounds[1:])]


def split(x: Any, indices_or_sections: Any, axis: int = 0) -> list[Tensor]:
    """np.split: equal sections (an int that divides the axis) or split points; each part is a slice."""
    return _split_by(np.split, x, indices_or_sections, axis)
register(split, np.split)


def array_split(x: Any, indices_or_sections: Any, axis: int = 0) -> list[Tensor]:
    """np.array_split: as split, and an int need not divide the axis (the first parts get one more)."""
    return _split_by(np.array_split, x, indices_or_sections, axis)
register(array_split, np.array_split)


def sort(x: Any, axis: int | None = -1, kind: str | None = None) -> Tensor:
    """Sorted along axis, as picking entries (the gradient goes back to where each came from). The sort
    is always stable (`kind` is accepted for NumPy's signature: the sorted values are the same), so
    equal entries keep their order and each gets its own gradient back."""
    x = _as_tensor(x)
    if axis is None:  # NumPy's: sort the flattened array
        x, axis = ravel(x), 0
    axis = checked_axis(axis, x.ndim, "sort")
    return take_along_op(x, _positions(argsort_op, x, axis=axis), axis=axis)
register(sort, np.sort)


def _at_least(t: Any, ndim: int) -> Any:
    """np.atleast_1d / atleast_2d: a 0-d entry becomes (1,) or (1, 1), a 1-D one (1, n) for 2."""
    shape = np.shape(unwrap(t))
    return t if len(shape) >= ndim else reshape_op(_as_tensor(t), shape=(1,) * (ndim - len(shape)) + shape)


def hstack(tensors: Sequence[Any]) -> Tensor:
    parts = [_at_least(t, 1) for t in list(tensors)]  # (one Tensor: its rows, as NumPy reads an array)
    return concatenate(parts, axis=0 if np.ndim(unwrap(parts[0])) == 1 else 1)
register(hstack, np.hstack)


def vstack(tensors: Sequence[Any]) -> Tensor:
    return concatenate([_at_least(t, 2) for t in list(tensors)], axis=0)
register(vstack, np.vstack)


def triu(x: Any, k: int = 0) -> Tensor:
    """The upper triangle (x times a 0/1 mask made from the shape alone)."""
    return mul(x, np.triu(np.ones(np.shape(unwrap(x))[-2:], bool), k))  # booleans take x's dtype
register(triu, np.triu)


def tril(x: Any, k: int = 0) -> Tensor:
    return mul(x, np.tril(np.ones(np.shape(unwrap(x))[-2:], bool), k))
register(tril, np.tril)


# ---- diagonals, differences, joining ------------------------------------------------------------


def diagonal(x: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Tensor:
    """np.diagonal: the diagonal of axes (axis1, axis2) as the last axis, as picking entries."""
    x = _as_tensor(x)
    if x.ndim < 2:
        raise ShapeError(f"diagonal: input of shape {x.shape}: needs at least 2 axes")
    moved = moveaxis(x, (axis1, axis2), (-2, -1))
    rows, cols = moved.shape[-2:]
    length = max(0, min(rows + min(offset, 0), cols - max(offset, 0)))
    steps = np.arange(length)
    return _getitem(moved, (Ellipsis, steps - min(offset, 0), steps + max(offset, 0)))
register(diagonal, np.diagonal)


def diag(x: Any, k: int = 0) -> Tensor:
    """np.diag: a vector's diagonal matrix (with the vector on diagonal k), or a matrix's diagonal k."""
    x = _as_tensor(x)
    if x.ndim == 2:
        return diagonal(x, k)
    if x.ndim != 1:
        raise ShapeError(f"diag: input of shape {x.shape}: expected a vector or a matrix")
    n = x.shape[0] + abs(k)
    steps = np.arange(x.shape[0])
    return index_set_op(zeros((n, n), x.dtype), x, index=(steps - min(k, 0), steps + max(k, 0)))
register(diag, np.diag)


def matrix_trace(x: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Tensor:
    """The sum of a diagonal: np.trace(t) and t.trace() run it. (`am.trace` is the step tracer, so
    the matrix trace has this name.)"""
    return diagonal(x, offset, axis1, axis2).sum(axis=-1)
register(matrix_trace, np.trace)


def diff(x: Any, n: int = 1, axis: int = -1) -> Tensor:
    """np.diff: differences of neighbours along axis, n times."""
    x = _as_tensor(x)
    axis = checked_axis(axis, x.ndim, "diff")
    lead = (slice(None),) * axis
    for _ in range(n):
        x = x[lead + (slice(1, None),)] - x[lead + (slice(None, -1),)]
    return x
register(diff, np.diff)


def append(x: Any, values: Any, axis: int | None = None) -> Tensor:
    """np.append: both flattened and joined (axis None), or joined along axis."""
    if axis is None:
        return concatenate([ravel(_as_tensor(x)), ravel(_as_tensor(values))])
    return concatenate([x, values], axis=axis)
register(append, np.append)


def _atleast(numpy_fn: Any):
    def atleast(*xs: Any) -> Any:
        shaped = [reshape_op(_as_tensor(x), shape=_shape_after(numpy_fn, np.shape(unwrap(x)), who=numpy_fn.__name__))
                  for x in xs]
        return shaped[0] if len(shaped) == 1 else shaped
    atleast.__name__ = numpy_fn.__name__
    return atleast


atleast_1d, atleast_2d, atleast_3d = _atleast(np.atleast_1d), _atleast(np.atleast_2d), _atleast(np.atleast_3d)
register(atleast_1d, np.atleast_1d)
register(atleast_2d, np.atleast_2d)
register(atleast_3d, np.atleast_3d)


# ---- more of NumPy's surface, as compositions of the rows above (HIPS autograd has each) -------------


def take(x: Any, indices: Any, axis: int | None = None, mode: str = "raise") -> Tensor:
    """np.take: entries at integer `indices` along axis (of the flattened x for None), as indexing
    (repeated indices add their gradients up)."""
    if mode != "raise":
        raise ValueError(f"take: mode={mode!r}; only NumPy's default 'raise' (indices must be in range) is supported")
    x = _as_tensor(x)
    positions = np.asarray(read_value(indices, "take"))
    if positions.dtype.kind not in "iu":
        raise TypeError(f"take: indices must be integers, got dtype {positions.dtype}")
    if axis is None:
        return _getitem(ravel(x), positions)
    return _gather(x, checked_axis(axis, x.ndim, "take"), positions)
register(take, np.take)


def _flip_along(x: Any, axis: int, who: str) -> Tensor:
    x = _as_tensor(x)
    if x.ndim <= axis:
        raise ShapeError(f"{who}: input of shape {x.shape}: needs at least {axis + 1} {'axes' if axis else 'axis'}")
    return flip(x, axis)


def flipud(x: Any) -> Tensor:
    return _flip_along(x, 0, "flipud")
register(flipud, np.flipud)


def fliplr(x: Any) -> Tensor:
    return _flip_along(x, 1, "fliplr")
register(fliplr, np.fliplr)


def rot90(x: Any, k: int = 1, axes: Sequence[int] = (0, 1)) -> Tensor:
    """np.rot90: k quarter turns from axes[0] towards axes[1], as flips and a transpose."""
    x = _as_tensor(x)
    if len(axes) != 2 or checked_axis(axes[0], x.ndim, "rot90") == checked_axis(axes[1], x.ndim, "rot90"):
        raise ShapeError(f"rot90: axes {tuple(axes)} for shape {x.shape}: expected two different axes")
    first, second = checked_axis(axes[0], x.ndim, "rot90"), checked_axis(axes[1], x.ndim, "rot90")
    k %= 4
    if k == 0:
        return x
    if k == 2:
        return flip(flip(x, first), second)
    order = list(range(x.ndim))
    order[first], order[second] = order[second], order[first]
    if k == 1:
        return transpose_op(flip(x, second), axes=tuple(order))
    return flip(transpose_op(x, axes=tuple(order)), second)
register(rot90, np.rot90)


def column_stack(tensors: Sequence[Any]) -> Tensor:
    """np.column_stack: 1-D entries become columns, 2-D ones join as they are."""
    parts = [_as_tensor(t) for t in list(tensors)]
    return concatenate([reshape_op(t, shape=(-1, 1)) if t.ndim < 2 else t for t in parts], axis=1)
register(column_stack, np.column_stack)


def dstack(tensors: Sequence[Any]) -> Tensor:
    """np.dstack: each entry made at least 3-D (NumPy's rule), joined along the third axis."""
    return concatenate([atleast_3d(t) for t in list(tensors)], axis=2)
register(dstack, np.dstack)


class _IndexedUpdate:
    """`x.at[index]`: functional updates in JAX's style, new Tensors differentiable in x and values."""

    __slots__ = ("x", "index")

    def __init__(self, x: Tensor, index: Any) -> None:
        self.x, self.index = x, index

    def set(self, values: Any) -> Tensor:
        return index_update(self.x, self.index, values)

    def add(self, values: Any) -> Tensor:
        return index_add(self.x, self.index, values)

    def get(self) -> Tensor:
        return self.x[self.index]


class _At:
    __slots__ = ("x",)

    def __init__(self, x: Any) -> None:
        self.x = x

    def __getitem__(self, index: Any) -> _IndexedUpdate:
        return _IndexedUpdate(self.x, index)


def _checked_update(who: str, x: Any, index: Any, values: Any, unique: bool) -> tuple:
    x = _as_tensor(x)
    for part in index if isinstance(index, tuple) else (index,):
        read_value(part, "index")  # positions decide which entries: a tracer must know
    index = plain_index(index, x.shape, who)
    try:
        positions = np.arange(x.size).reshape(x.shape)[index]
    except (IndexError, ValueError) as error:
        raise IndexError(f"{who}: index {index!r} into shape {x.shape}: {error}") from error
    value_shape = np.shape(unwrap(values))
    try:
        np.broadcast_shapes(value_shape, positions.shape)
    except ValueError:
        raise ShapeError(f"{who}: values of shape {value_shape} cannot be broadcast to the indexed shape "
                         f"{positions.shape} of x[{index!r}] (x has shape {x.shape})") from None
    if len(np.broadcast_shapes(value_shape, positions.shape)) > positions.ndim:
        raise ShapeError(f"{who}: values of shape {value_shape} have more axes than x[{index!r}] "
                         f"of shape {positions.shape}")
    if unique and np.unique(positions).size != positions.size:
        raise ValueError(f"{who}: index {index!r} names an entry of x more than once; which write wins is "
                         f"undefined, so its gradient would be too (use index_add to add up repeats)")
    return x, index


def index_update(x: Any, index: Any, values: Any) -> Tensor:
    """A copy of x with x[index] = values (broadcast); differentiable in x and in values."""
    x, index = _checked_update("index_update", x, index, values, unique=True)
    return index_set_op(x, values, index=index)
register(index_update)


def index_add(x: Any, index: Any, values: Any) -> Tensor:
    """A copy of x with values added at x[index]; repeated indices add up (np.add.at)."""
    x, index = _checked_update("index_add", x, index, values, unique=False)
    return index_add_op(x, values, index=index)
register(index_add)


# ---- in-place updates (x[i] = v, x += v, ...): recorded as the functional rows above -------------


def _in_place(x: Tensor, compute: Any, what: str) -> Tensor:
    """x changed in place, the way NumPy code writes it: x becomes the node compute(x as it was),
    through the engine's rebase (earlier uses of x keep the old node). A view made by basic
    indexing (`row = x[0]`, and the temporary of `x[0] += v`) passes its new value on to the tensor
    it views, as NumPy's view would; other views cannot, and are refused."""
    compute = _into_own_layout(x, compute, what)
    view = getattr(x, "_view", None)
    if view is None:
        _refuse_other_views(x, what)
        return rebase(x, compute, what)
    base, index, taken = view
    if any(version > taken for version, _ in getattr(base, "_rebases", ())):
        raise GraphError(f"{what}: this tensor (shape {x.shape}) is a view x[{index!r}] taken before x was changed "
                         f"in place; in NumPy the view would show that change, here it holds the values from before. "
                         f"Index x again after changing it (x[{index!r}] ...) instead of reusing the old view")
    rebase(x, compute, what)
    base[index] = x
    x._view = (base, index, _tensor._writes)
    return x


def _into_own_layout(x: Tensor, compute: Any, what: str) -> Any:
    """compute, held to what NumPy's in-place ops keep: x's shape (a result broadcast bigger is refused,
    as NumPy's 'non-broadcastable output operand') and x's dtype (float32 += float64 stays float32)."""
    shape, dtype = x.shape, x.dtype

    def into_x(old: Tensor) -> Tensor:
        new = compute(old)
        if new.shape != shape:
            raise ShapeError(f"{what}: the result has shape {new.shape}, but x (shape {shape}) is changed in place "
                             f"and keeps its shape (NumPy: non-broadcastable output operand); write x = x ... "
                             f"for a new tensor of the broadcast shape")
        return new if new.dtype == dtype else astype_op(new, dtype=dtype)
    return into_x


def _refuse_other_views(x: Tensor, what: str) -> None:
    """A tensor whose values are a view of an input's (reshape, transpose, broadcast_to, ...): NumPy
    would change that input too, which cannot be recorded here."""
    if x._data.base is None or not x._parents:
        return
    for p in x._parents:
        if np.may_share_memory(x._data, p._data):
            raise GraphError(f"{what}: this tensor (shape {x.shape}, made by '{x.op_name}') is a view of another "
                             f"tensor's values (shape {p.shape}); in NumPy the change would show in both, which "
                             f"autograd_mini cannot record. Change a copy (y = x.copy()) or the original tensor")


def _setitem(x: Tensor, index: Any, values: Any) -> None:
    checked_x, plain = _checked_update("x[index] = values", x, index, values, unique=True)
    _in_place(x, lambda old: index_set_op(old, values, index=plain), "x[index] = values")
