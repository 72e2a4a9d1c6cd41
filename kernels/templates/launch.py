"""Candidate text shared by the Triton templates: launches bound at their first call (`_bind`, `_launch`), which
halves Triton's host time a launch, and host arithmetic that does not go through Triton's constexpr handling."""

BIND = '''
def _cdiv(a, b):
    return -(-a // b)  # as triton.cdiv, without its constexpr handling (microseconds a call on the host)


def _bind(kernel, grid, meta, args):
    """kernel[grid](*args, **meta), and a launcher of the kernel it compiled for later calls with tensors of the
    same kinds (dtypes, 16-byte alignment) and the same grid and constexprs: Triton's compiled-kernel runner
    takes every argument, constexprs included, in the kernel's order, and skips the binding, specialisation and
    cache lookup that each kernel[grid](...) does on the host (half of a launch's host time, 20 against 9 us on
    an H200 host: benchmarks/experiments/launch_probe.py). None under Triton's interpreter, which compiles
    nothing."""
    compiled = kernel[grid](*args, **meta)
    if getattr(compiled, "function", None) is None:
        return None
    runner = compiled[tuple(grid) + (1,) * (3 - len(grid))]  # the runner reads three grid dimensions
    tail = [meta.get(p.name, p.default) for p in kernel.params[len(args):]]  # constexprs; defaults where not given
    return lambda *again: runner(*again, *tail)


def _launch(bound, key, kernel, args, launch):
    """kernel[grid](*args, **meta), (grid, meta) = launch(); after the first call with this key, through the
    launcher _bind made of it (kept in `bound`), which keeps that call's grid and constexprs. The key must name
    what decides them (the candidate's path, M, the activations' dtype), and launch() is not called again: a
    bound call spends nothing on them."""
    run = bound.get(key)
    if run is not None:
        run(*args)
    elif key in bound:  # nothing to bind (Triton's interpreter)
        grid, meta = launch()
        kernel[grid](*args, **meta)
    else:
        bound[key] = _bind(kernel, *launch(), args)

'''
