"""Parameters, modules and initializers.

Weights follow the documents' layout: a layer computes `X @ W` with W of shape (inputs, outputs),
so a document's weight matrix and ours are the same array.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import numpy as np

from .errors import ShapeError
from .tensor import Tensor, scope


class Parameter(Tensor):
    """A Tensor that is learned: it requires grad and carries a name for audits and pictures."""

    __slots__ = ()

    def __init__(self, data: Any, name: str | None = None) -> None:
        super().__init__(data, requires_grad=True, name=name)


# ---- initializers: each returns a NumPy array of the given shape -------------------------------

def uniform_symmetric(shape: tuple[int, ...], rng: Any = None) -> np.ndarray:
    """The documents' `2*np.random.random(shape) - 1`, drawn from NumPy's legacy global stream
    unless an rng is given, so that `np.random.seed(1)` gives the documents' weights bit for bit."""
    draw = np.random.random if rng is None else rng.random
    return 2 * draw(shape) - 1


def glorot_uniform(shape: tuple[int, ...], rng: Any = None) -> np.ndarray:
    """Glorot/Xavier: U(-u, u) with u = sqrt(6 / (fan_in + fan_out))."""
    limit = np.sqrt(6.0 / (shape[-2] + shape[-1]))
    draw = np.random.uniform if rng is None else rng.uniform
    return draw(-limit, limit, shape)


INITIALIZERS: dict[str, Callable[..., np.ndarray]] = {"uniform": uniform_symmetric, "glorot": glorot_uniform}


class Module:
    """Collects Parameters and sub-Modules assigned as attributes, by attribute name.

    Assigning anything else to a name (an array, None) removes what was registered under it.
    A Parameter reachable under several names (tied weights, a shared sub-Module) is listed once,
    under the first name met, as PyTorch does: an optimizer must not step it twice."""

    def __setattr__(self, name: str, value: Any) -> None:
        self._unregister(name)
        if isinstance(value, Parameter):
            self.__dict__.setdefault("_parameters", {})[name] = value
        elif isinstance(value, Module):
            self.__dict__.setdefault("_modules", {})[name] = value
            value.__dict__["_label"] = name
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        self._unregister(name)
        object.__delattr__(self, name)

    def _unregister(self, name: str) -> None:
        self.__dict__.get("_parameters", {}).pop(name, None)
        self.__dict__.get("_modules", {}).pop(name, None)

    def forward(self, *args: Any) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Tensor:
        label = self.__dict__.get("_label")
        if label is None:
            return self.forward(*args, **kwargs)
        with scope(label):
            return self.forward(*args, **kwargs)

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """(dotted name, Parameter) pairs, each Parameter once (under the first name met)."""
        seen: set[int] = set()
        for full, name, p in self._walk_parameters(prefix, set()):
            if id(p) not in seen:
                seen.add(id(p))
                if p.name is None or p.name == name:
                    p.name = full  # so pictures and audits can label the leaf
                yield full, p

    def _walk_parameters(self, prefix: str, modules: set[int]) -> Iterator[tuple[str, str, Parameter]]:
        """Every (dotted name, own name, Parameter), depth first; a module met twice is walked once."""
        modules.add(id(self))
        for name, p in self.__dict__.get("_parameters", {}).items():
            yield prefix + name, name, p
        for name, m in self.__dict__.get("_modules", {}).items():
            if id(m) not in modules:
                yield from m._walk_parameters(prefix + name + ".", modules)

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    def state_dict(self) -> dict[str, np.ndarray]:
        return {name: p.data.copy() for name, p in self.named_parameters()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Set every parameter from `state` (name -> array), all or nothing: every entry is checked
        (the names, each shape, a real numeric dtype, finite values) before any is assigned."""
        if not isinstance(state, Mapping):
            raise TypeError(f"load_state_dict: expected a mapping name -> array, got {type(state).__name__}")
        own = dict(self.named_parameters())
        missing, unexpected = own.keys() - state.keys(), state.keys() - own.keys()
        if missing or unexpected:
            raise KeyError(f"load_state_dict: missing {sorted(missing)}, unexpected {sorted(unexpected)}")
        checked = {name: _checked_entry(name, state[name], own[name]) for name in own}
        for name, value in checked.items():
            own[name].data = value

    def save(self, path: str | os.PathLike) -> Path:
        """Write the state dict to `path` as .npz (the extension is added if missing, as NumPy does);
        written to a temporary file first, then renamed, so a failed save never leaves half a file."""
        target = _npz_path(path)
        temporary = target.with_name(target.name + ".partial.npz")
        try:
            np.savez(temporary, **self.state_dict())  # type: ignore[arg-type]  # (stubs: a name could be allow_pickle)
            os.replace(temporary, target)
        finally:
            temporary.unlink(missing_ok=True)
        return target

    def load(self, path: str | os.PathLike) -> None:
        """Read what `save(path)` wrote: `load("w")` finds the "w.npz" that `save("w")` wrote."""
        target = _npz_path(path)
        if not target.exists() and Path(path).exists():  # a file named exactly `path`, saved some other way
            target = Path(path)
        with np.load(target) as archive:
            self.load_state_dict({name: archive[name] for name in archive.files})


def _npz_path(path: str | os.PathLike) -> Path:
    path = Path(path)
    return path if path.suffix == ".npz" else path.with_name(path.name + ".npz")


def _checked_entry(name: str, value: Any, param: Parameter) -> np.ndarray:
    """`value` as a fresh array of the parameter's dtype, refused unless it fits the parameter."""
    try:
        array = np.asarray(value.data if isinstance(value, Tensor) else value)
    except ValueError as error:  # ragged nested lists
        raise TypeError(f"load_state_dict: '{name}' is not an array: {error}") from error
    if array.dtype.kind not in "iuf":
        raise TypeError(f"load_state_dict: '{name}' has dtype {array.dtype}; expected real numbers for a parameter "
                        f"of dtype {param.dtype}")
    if array.shape != param.shape:
        raise ShapeError(f"load_state_dict: '{name}' has shape {param.shape}, got {array.shape}")
    with np.errstate(over="ignore"):  # finite float64 may overflow float32: checked below, on what would be loaded
        array = np.asarray(array, dtype=param.dtype)
    bad = ~np.isfinite(array)
    if np.any(bad):
        raise ValueError(f"load_state_dict: '{name}' has {int(bad.sum())} non-finite entr"
                         f"{'y' if bad.sum() == 1 else 'ies'} (first {array[bad].flat[0]} at "
                         f"{tuple(int(i) for i in np.argwhere(bad)[0])}); a parameter must be finite")
    return np.array(array, dtype=param.dtype)


class Linear(Module):
    """y = x @ weight (+ bias), weight of shape (in_features, out_features)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, init: str = "glorot",
                 weight: Any = None, rng: Any = None) -> None:
        shape = (in_features, out_features)
        w = INITIALIZERS[init](shape, rng) if weight is None else np.asarray(weight, dtype=float)
        if w.shape != shape:
            raise ShapeError(f"Linear: weight must have shape {shape} (in, out), got {w.shape}")
        self.weight = Parameter(w)
        if bias:
            self.bias = Parameter(np.zeros(out_features))

    def forward(self, x: Any) -> Tensor:
        out = x @ self.weight
        return out + self.bias if "bias" in self.__dict__ else out


class Sequential(Module):
    layers: list[Module]

    def __init__(self, *layers: Module) -> None:
        for i, layer in enumerate(layers):
            setattr(self, str(i), layer)
        self.__dict__["layers"] = list(layers)

    def forward(self, x: Any) -> Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


class Sigmoid(Module):
    def forward(self, x: Tensor) -> Tensor:
        return x.sigmoid()


class Tanh(Module):
    def forward(self, x: Tensor) -> Tensor:
        return x.tanh()


class ReLU(Module):
    def forward(self, x: Tensor) -> Tensor:
        return x.relu()
