"""Parameters, modules and initializers.

Weights follow the documents' layout: a layer computes `X @ W` with W of shape (inputs, outputs),
so a document's weight matrix and ours are the same array.
"""
from __future__ import annotations

from typing import Any, Callable, Iterator

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
    """Collects Parameters and sub-Modules assigned as attributes, by attribute name."""

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, Parameter):
            self.__dict__.setdefault("_parameters", {})[name] = value
        elif isinstance(value, Module):
            self.__dict__.setdefault("_modules", {})[name] = value
            value.__dict__["_label"] = name
        object.__setattr__(self, name, value)

    def forward(self, *args: Any) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Tensor:
        label = self.__dict__.get("_label")
        if label is None:
            return self.forward(*args, **kwargs)
        with scope(label):
            return self.forward(*args, **kwargs)

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        for name, p in self.__dict__.get("_parameters", {}).items():
            full = prefix + name
            if p.name is None or p.name == name:
                p.name = full  # so pictures and audits can label the leaf
            yield full, p
        for name, m in self.__dict__.get("_modules", {}).items():
            yield from m.named_parameters(prefix + name + ".")

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    def state_dict(self) -> dict[str, np.ndarray]:
        return {name: p.data.copy() for name, p in self.named_parameters()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        own = dict(self.named_parameters())
        missing, unexpected = own.keys() - state.keys(), state.keys() - own.keys()
        if missing or unexpected:
            raise KeyError(f"load_state_dict: missing {sorted(missing)}, unexpected {sorted(unexpected)}")
        for name, value in state.items():
            value = np.asarray(value, dtype=own[name].dtype)
            if value.shape != own[name].shape:
                raise ShapeError(f"load_state_dict: '{name}' has shape {own[name].shape}, got {value.shape}")
            own[name].data = value.copy()

    def save(self, path: str) -> None:
        np.savez(path, **self.state_dict())

    def load(self, path: str) -> None:
        with np.load(path) as archive:
            self.load_state_dict({name: archive[name] for name in archive.files})


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
