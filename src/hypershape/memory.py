"""How much memory the activations of a training step hold: the bytes of the tensors autograd saves for
backward, counted while they are alive. Works on the `meta` device, so the figure for N = 100 sizes
costs no memory and no GPU (benchmarks/gpu_memory.py)."""

from __future__ import annotations

import torch


class SavedTensors:
    """Context manager: `live` bytes of autograd-saved tensors now alive, `peak` the most at once, `total`
    all bytes saved, `largest` the largest one. A tensor saved twice (or two views of one storage) counts
    once while both live; tensors that need no memory of their own (views of the parameters and inputs,
    e.g. a transposed weight) count too, a small overestimate."""

    def __init__(self):
        self.live = self.peak = self.total = self.largest = 0
        self._held: dict[int, list] = {}  # storage key -> [bytes, holders]

    def _key(self, t: torch.Tensor) -> int:
        s = t.untyped_storage()
        return s.data_ptr() if t.device.type != "meta" else id(t._base if t._base is not None else t)

    def _pack(self, t: torch.Tensor):
        key = self._key(t)
        size = t.untyped_storage().nbytes() if t.device.type != "meta" else t.numel() * t.element_size()
        if key in self._held:
            self._held[key][1] += 1
        else:
            self._held[key] = [size, 1]
            self.live += size
            self.total += size
            self.largest = max(self.largest, size)
            self.peak = max(self.peak, self.live)
        return _Held(t, key, self)

    def _release(self, key: int) -> None:
        entry = self._held[key]
        entry[1] -= 1
        if entry[1] == 0:
            self.live -= entry[0]
            del self._held[key]

    def __enter__(self) -> "SavedTensors":
        self._hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, lambda held: held.tensor)
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._hooks.__exit__(*exc)


class _Held:
    """A saved tensor; when autograd drops it (after backward, or with the graph), its bytes are released."""

    def __init__(self, tensor: torch.Tensor, key: int, owner: SavedTensors):
        self.tensor, self.key, self.owner = tensor, key, owner

    def __del__(self):
        self.owner._release(self.key)
