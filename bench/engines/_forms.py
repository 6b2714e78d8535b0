"""How an engine learns a problem's special form: the problem calls a hook of the engine's
array namespace (``xp.njit_call``, ``xp.layer_chain``), which raises an exception carrying
the form instead of computing anything."""


def form_of(f, x, form_type):
    """Run ``f(x)`` in such a namespace: the ``form_type`` exception it raised (the form), or
    None when the problem has no such form."""
    try:
        f(x)
    except form_type as form:
        return form
    return None
