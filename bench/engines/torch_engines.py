"""PyTorch (CPU) peers: ``torch-fwd`` and ``torch-rev``.

- ``torch-fwd``: ``torch.func.jacfwd`` -- forward-mode JVPs (dual tensors) of all n
  basis directions at once, batched with ``vmap``;
- ``torch-rev``: for scalar F the classic ``y.backward()`` on the autograd tape
  (what a training loop does); for vector F ``torch.func.jacrev`` (VJPs of all m
  basis cotangents, ``vmap``-ed).

Both are eager: PyTorch dispatches every op as it comes, like our engines.  Problems
run through :mod:`bench.engines.torch_xp`, a NumPy-style namespace over torch, in
float64.

Threads: torch runs with one intra-op thread (``torch.set_num_threads(1)``).  On this
2-core machine, shared with other work, MKL's OpenMP threads made a (32 x 16) @
(16 x 10) float64 matmul take ~4 ms instead of ~2 us (threads waiting for a busy
core); our engines and NumPy's small-array code are single-threaded too, so one
thread is also the like-for-like setting.  Recorded as ``engine_sizes["threads"]``.
"""

from __future__ import annotations

from bench.engines._peers import PeerEngine, as_numpy


THREADS = 1


def _torch():
    import torch

    if torch.get_num_threads() != THREADS:
        torch.set_num_threads(THREADS)
    return torch


class _TorchEngine(PeerEngine):
    module = "torch"

    def namespace(self):
        _torch()
        from bench.engines import torch_xp

        return torch_xp

    def to_peer(self, x):
        import torch

        return torch.as_tensor(x, dtype=torch.float64)

    def own_f(self, f):
        import torch

        def f_no_grad(x):
            with torch.no_grad():
                return f(x)

        return f_no_grad

    def sizes(self, f, x, scalar, settings):
        return {**self.own_f_sizes(f, x), "threads": _torch().get_num_threads()}


class TorchFwd(_TorchEngine):
    name = "torch-fwd"
    vectorised = "forward"
    summary = "PyTorch torch.func.jacfwd (forward-mode dual tensors, n directions vmapped)"

    def build(self, f, x, scalar, settings):
        torch = _torch()
        import torch.func

        jac = torch.func.jacfwd(f)

        def derivative(x_):
            return as_numpy(jac(torch.as_tensor(x_, dtype=torch.float64)))

        return derivative


class TorchRev(_TorchEngine):
    name = "torch-rev"
    vectorised = "reverse"
    summary = "PyTorch backward() for gradients, torch.func.jacrev for Jacobians"

    def build(self, f, x, scalar, settings):
        torch = _torch()
        import torch.func

        if scalar:
            def derivative(x_):
                xt = torch.tensor(x_, dtype=torch.float64, requires_grad=True)
                f(xt).backward()
                return as_numpy(xt.grad)
        else:
            jac = torch.func.jacrev(f)

            def derivative(x_):
                return as_numpy(jac(torch.as_tensor(x_, dtype=torch.float64)))

        return derivative


ENGINES = (TorchFwd(), TorchRev())
