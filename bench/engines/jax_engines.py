"""JAX (CPU) peers: ``jax-fwd``, ``jax-rev`` (eager) and ``jax-jit-fwd``, ``jax-jit-rev``.

- forward: ``jax.jacfwd`` -- JVPs of all n basis directions at once (``vmap``);
- reverse: ``jax.grad`` for scalar F, ``jax.jacrev`` (VJPs of all m basis
  cotangents, ``vmap``-ed) otherwise;
- eager runs every primitive as it comes (op-by-op dispatch, like our engines);
  ``jit`` traces once and compiles the whole derivative with XLA.  The compile is in
  the record's ``first_call_s`` (trace + compile + first run), never in the
  steady-state times.

Problems run on ``jax.numpy`` through their ``xp`` argument, in float64
(``jax_enable_x64`` is switched on before any array is made).
"""

from __future__ import annotations

from bench.engines._peers import PeerEngine, as_numpy


def _jax():
    import jax

    jax.config.update("jax_enable_x64", True)
    return jax


class _JaxEngine(PeerEngine):
    module = "jax"
    mode = "forward"
    jit = False

    def namespace(self):
        return _jax().numpy

    def _transform(self, f, scalar):
        jax = _jax()
        if self.mode == "forward":
            d = jax.jacfwd(f)
        else:
            d = jax.grad(f) if scalar else jax.jacrev(f)
        return jax.jit(d) if self.jit else d

    def build(self, f, x, scalar, settings):
        jax = _jax()
        d = self._transform(f, scalar)

        def derivative(x_):
            return as_numpy(d(jax.numpy.asarray(x_)))

        return derivative

    def to_peer(self, x):
        return _jax().numpy.asarray(x)

    def own_f(self, f):
        return _jax().jit(f) if self.jit else f

    def sizes(self, f, x, scalar, settings):
        return self.own_f_sizes(f, x)


class JaxFwd(_JaxEngine):
    name = "jax-fwd"
    vectorised = "forward"
    summary = "JAX jax.jacfwd, eager (op-by-op dispatch); all n directions vmapped"


class JaxRev(_JaxEngine):
    name = "jax-rev"
    vectorised = "reverse"
    summary = "JAX jax.grad / jax.jacrev, eager (op-by-op dispatch)"
    mode = "reverse"


class JaxJitFwd(_JaxEngine):
    name = "jax-jit-fwd"
    vectorised = "forward"
    summary = "JAX jax.jit(jax.jacfwd): XLA-compiled (compile time = first call)"
    jit = True


class JaxJitRev(_JaxEngine):
    name = "jax-jit-rev"
    vectorised = "reverse"
    summary = "JAX jax.jit(jax.grad / jax.jacrev): XLA-compiled (compile time = first call)"
    mode = "reverse"
    jit = True


ENGINES = (JaxFwd(), JaxRev(), JaxJitFwd(), JaxJitRev())
