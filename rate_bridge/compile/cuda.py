"""The CUDA backend: the CPU kernel's generated source, made a CUDA kernel.

One generator serves both targets. :func:`cuda_source` takes the module that
:func:`~rate_bridge.compile.codegen.generate` writes for the CPU and changes only what the
target needs: every function becomes a CUDA device function, ``run``'s loop over batch
members becomes a thread or a block per member, and the work arrays ``run`` allocates on the
CPU become views of a per-member row of a ``work`` array (and of ``wkeys`` for the noise
keys) allocated once on the device. The equations, couplings, delays, noise (the same
counter-based generator, so a seed draws the same numbers), recordings and monitors are
those of the CPU kernel, line for line.

Two layouts, from the CPU source of simulate()'s ``parallel``:

- "batch": a thread per member. Every per-member array (parameters, edges, delay buffers,
  work, outputs) has the member as its last axis on the device, so that the 32 threads of a
  warp, 32 members, read 32 neighbouring values; a thread's view is ``array[..., b]``.
- "regions": a block per member, its threads spread over the loops the CPU kernel spreads
  over cores (``prange``: regions, states, monitors' rows), a barrier after each
  (:func:`_spread`). Arrays keep the CPU's layout, member first: a warp's threads,
  neighbouring regions, read neighbouring values. A batch fills the GPU with fewer members.

Numbers are float64, or float32 (:func:`_single`).

Under numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``) the kernel runs as Python on the
CPU: the tests check it against the CPU kernel there. The two bit casts of the vector math,
LLVM intrinsics, then become numpy views.
"""
import ast
import io
import re
import sys
import time
import tokenize
import types
import warnings

import numpy as np

from ..utils import logger

#: registers a thread of the kernel may use; None: as many as ptxas takes. Measured offline
#: (ptxas -v, sm_90, JR76): 251-255 in either layout, so that a block-layout SM holds 2 blocks
#: of 96 threads (~10 % occupancy). A cap trades spills (to L1-cached local memory) for
#: resident threads: to be measured on a GPU (bench_gpu.py --max-registers)
MAX_REGISTERS = None

#: run's work arrays: name -> shape factors (named in :func:`_work_sizes`); ``run``'s CPU
#: source allocates each with np.zeros / np.empty (zeroed on the device as it says)
WORK = {"sv": ("Q", "NR"), "iv": ("NE",), "cin": ("C", "NR"), "ext": ("V", "NR"),
        "dw": ("NZ1", "NR"), "mv": ("M1", "NR"), "k1": ("S",), "k2": ("S",), "k3": ("S",),
        "k4": ("S",), "xt": ("S",), "g1": ("S",), "g2": ("S",)}

_SIM_CASTS = '''
def _f64_from_bits(bits):
    return np.int64(bits).view(np.float64)


def _bits_of(value):
    return np.float64(value).view(np.int64)
'''


def available():
    """Whether a CUDA device (or numba's CUDA simulator) can run kernels."""
    try:
        from numba import cuda
        return bool(cuda.is_available())
    except Exception:               # no driver, no toolkit, or numba-cuda missing
        return False


def simulator():
    """Whether numba's CUDA simulator is on (``NUMBA_ENABLE_CUDASIM=1``)."""
    from numba import config
    return bool(config.ENABLE_CUDASIM)


def cuda_source(cpu_source, per="member", dtype="float64"):
    """The CUDA module source from the CPU kernel module's source: one thread per member
    (``per="member"``, from the source of ``parallel="batch"``) or a block of threads per
    member, spread over its regions (``per="region"``, from that of ``parallel="regions"``);
    in float32 if ``dtype`` says so (:func:`_single`)."""
    if dtype == "float32":
        return _single(cuda_source(cpu_source, per))
    src = cpu_source.replace("from numba import njit, prange", "from numba import cuda")
    run_at = src.index("\ndef run(")
    deco_at = src.rindex("@njit(", 0, run_at)
    head, run = src[:deco_at], src[deco_at:]
    # every other function: a device function (the options of the CPU target dropped)
    head = re.sub(r"@njit\([^)]*\)", "@cuda.jit(device=True)", head)
    if simulator():
        head = re.sub(r"@intrinsic\ndef _f64_from_bits\(.*?\n\n\n@intrinsic\ndef _bits_of\(.*?"
                      r"codegen\n", _SIM_CASTS.strip("\n") + "\n", head, flags=re.S)
    if per == "region":
        return _spread(head) + _spread(_block_run(run))
    return head + _cuda_run(run)


def _cuda_run(run):
    """``run`` as a kernel: one thread per member; every per-member array has the member as
    its last axis (so that a warp's 32 threads read 32 neighbouring values), the member's
    view is ``[..., b]``; work arrays come from ``work`` / ``wkeys``."""
    run = _kernel_head(run, "cuda.grid(1)")
    run = re.sub(r"= (\w+_all)\[b\]\n", r"= \1[..., b]\n", run)
    run = run.replace("x0[b, j]", "x0[j, b]")
    run = run.replace("carry[b - b0], ", "carry[:, bb], ", 1)
    lines, slices = [], {}
    for line in run.split("\n"):
        code = line.split("  #")[0].rstrip()
        view = re.fullmatch(r"(\s*)(\w+) = (\w+)\[(.+)\](?:\.reshape\(\((.*)\)\))?", code)
        shaped = re.fullmatch(r"(\s*)(\w+) = (\w+)\.reshape\(\((.*)\)\)", code)
        if _allocation(code):
            lines += _view(*_allocation(code), "member")
        elif view and view.group(3) == "st":          # a part of the member's carry
            ind, name, part, dims = view.group(1), view.group(2), view.group(4), view.group(5)
            slices[name] = part
            lines.append(f"{ind}{name} = " + (_carry_part(part, dims) if dims
                                             else f"carry[{part}, bb]"))
        elif shaped and shaped.group(3) in slices:     # a shaped view of such a part
            lines.append(f"{shaped.group(1)}{shaped.group(2)} = "
                         + _carry_part(slices[shaped.group(3)], shaped.group(4)))
        else:
            lines.append(line)
    return _with_offsets(lines)


def _block_run(run):
    """``run`` as a kernel of a block per member (the CPU's layout, member first: a warp's
    threads, neighbouring regions, read neighbouring values); work arrays come from
    ``work[bb]`` / ``wkeys[bb]``."""
    run = _kernel_head(run, "cuda.blockIdx.x")
    lines = []
    for line in run.split("\n"):
        code = line.split("  #")[0].rstrip()
        if _allocation(code):
            lines += _view(*_allocation(code), "region")
        else:
            lines.append(line)
    return _with_offsets(lines)


def _kernel_head(run, member):
    """``run``'s decorator, arguments and member loop made a kernel's: member ``b0 +
    member``."""
    cap = f"(max_registers={int(MAX_REGISTERS)})" if MAX_REGISTERS and not simulator() else ""
    run = re.sub(r"@njit\([^)]*\)", f"@cuda.jit{cap}", run, count=1)
    run = run.replace(", carry):", ", carry, work, wkeys):", 1)
    run = run.replace("    for b in range(b0, b1):\n", f"    b = b0 + {member}\n    if b < b1:\n",
                      1)
    return run.replace("continue      # diverged or stopped", "return      # diverged or stopped")


def _allocation(code):
    """(indent, name, shape, array, offset, zero) of a work array ``run`` allocates on the
    CPU, or None."""
    alloc = re.fullmatch(r"(\s*)(\w+) = np\.(zeros|empty)\((.*)\)", code)
    if alloc and alloc.group(2) in WORK:
        return (alloc.group(1), alloc.group(2), alloc.group(4), "work", "ow",
                alloc.group(3) == "zeros")
    if alloc and alloc.group(2) == "keys":
        return alloc.group(1), "keys", alloc.group(4).split(", dtype=")[0], "wkeys", "ok", False
    return None


def _with_offsets(lines):
    """The lines with the work offsets and the member's index bb set at the member's start."""
    at = lines.index("    if b < b1:") + 1
    head = ["        bb, ow, ok = b - b0, np.int64(0), np.int64(0)"]
    return "\n".join(lines[:at] + head + lines[at:])


def _spread(source):
    """``source`` with its ``prange`` loops (those the CPU spreads over cores) spread over the
    block's threads instead: thread t takes iterations t, t + blockDim, ...; a barrier follows
    each loop, since the next may read what any thread wrote. A count made in such a loop
    (``n = 0`` just before, ``n += ...`` inside) becomes the block's number of threads that
    counted (the kernel tests such counts against 0). Every thread runs the rest, on the same
    values, so that each reaches every barrier."""
    lines, out, loop = source.split("\n"), [], None
    for i, line in enumerate(lines):
        ind = len(line) - len(line.lstrip())
        if loop and line.strip() and ind <= loop[0]:      # the loop ended before this line
            out[loop[2]:loop[2]] = loop[1]
            loop = None
        head = re.fullmatch(r"(\s*)for (\w+) in prange\((.*)\):(\s*#.*)?", line)
        if head:
            assert loop is None, f"nested prange loops: {line}"
            count = re.fullmatch(r"\s*(\w+) = 0", lines[i - 1])
            after = (f"{head.group(1)}{count.group(1)} = cuda.syncthreads_count"
                     f"({count.group(1)})" if count else f"{head.group(1)}cuda.syncthreads()")
            line = (f"{head.group(1)}for {head.group(2)} in range(cuda.threadIdx.x, "
                    f"{head.group(3)}, cuda.blockDim.x):{head.group(4) or ''}")
            loop = [ind, [after], None]
        out.append(line)
        if loop and line.strip():
            loop[2] = len(out)                # the barrier goes after the loop's last line
            # a thread leaving the function in the loop would never reach the barrier
            assert not re.match(r"\s*return\b", line), f"return inside a prange loop: {line}"
    if loop:
        out[loop[2]:loop[2]] = loop[1]
    return "\n".join(out)


def _single(source):
    """``source`` computing in float32 (its arrays float32 too: the host's part): float
    literals typed float32 (a plain literal is a float64, which would promote every operation
    it meets), exp and log CUDA's float32 functions, the NaN/inf test ``math.isfinite``. The
    noise generator and the vector math keep float64: the same draws as the float64 kernel,
    rounded once to float32."""
    from .rng import RNG_SOURCE
    from .vecmath import NONFINITE, VECMATH_SOURCE
    exact = set(re.findall(r"(?m)^def (\w+)", VECMATH_SOURCE + RNG_SOURCE))
    lines = source.split("\n")
    owner, name = [], None          # the function each line belongs to (None: module level)
    for line in lines:
        if line[:1].strip() and not line.startswith(("@", "#", ")")):
            head = re.match(r"def (\w+)", line)
            name = head.group(1) if head else None
        owner.append(name)
    single = [name is not None and name not in exact for name in owner]
    for tok in reversed(list(tokenize.generate_tokens(io.StringIO(source).readline))):
        (row, c0), (_, c1) = tok.start, tok.end
        if (tok.type == tokenize.NUMBER and single[row - 1]
                and re.fullmatch(r"[\d.]+(e[-+]?\d+)?", tok.string) and not tok.string.isdigit()):
            line = lines[row - 1]
            lines[row - 1] = f"{line[:c0]}np.float32({tok.string}){line[c1:]}"
    nonfinite = re.escape(NONFINITE).replace(re.escape("{0}"), r"(\w+)")
    for i, line in enumerate(lines):
        if single[i]:
            line = line.replace("_fexp(", "math.exp(").replace("_flog(", "math.log(")
            lines[i] = re.sub(nonfinite, r"(not math.isfinite(\1))", line)
    return "\n".join(lines)


def _carry_part(part, dims):
    """The member's view of rows ``part`` of carry, shaped ``dims``."""
    return f"carry[{part}].reshape(({_int64(dims)}, carry.shape[1]))[..., bb]"


def _int64(dims):
    """Dimensions as int64: the CUDA target's int() of a uint64 stays uint64, and reshape
    wants one integer type."""
    tree = ast.parse(f"({dims},)", mode="eval").body
    return ", ".join(f"np.int64({ast.unparse(d)})" for d in tree.elts)


def _view(indent, name, shape, array, offset, zero, per):
    """Lines binding ``name`` to the member's view of the next ``shape`` rows of ``array``
    (work or wkeys; its member axis last for ``per="member"``, first for "region"), zeroed
    if ``zero`` (spread over the block's threads for "region")."""
    tree = ast.parse(shape, mode="eval").body
    dims = tree.elts if isinstance(tree, ast.Tuple) else [tree]
    size = " * ".join(f"({ast.unparse(d)})" for d in dims)
    shape_ = _int64(", ".join(ast.unparse(d) for d in dims))
    out = [f"{indent}{name}_n = np.int64({size})"]
    if per == "region":
        rows = f"{array}[bb, {offset}:{offset} + {name}_n]"
        out.append(f"{indent}{name} = {rows}.reshape(({shape_},))")
        zeros = [f"{indent}for j_ in prange({name}_n):",
                 f"{indent}    {array}[bb, {offset} + j_] = 0.0"]
    else:
        rows = f"{array}[{offset}:{offset} + {name}_n]"
        out.append(f"{indent}{name} = {rows}.reshape(({shape_}, {array}.shape[1]))[..., bb]")
        zeros = [f"{indent}for j_ in range({name}_n):",
                 f"{indent}    {array}[{offset} + j_, bb] = 0.0"]
    return out + (zeros if zero else []) + [f"{indent}{offset} += {name}_n"]


def _work_sizes(spec, args):
    """Values of run's work arrays' shape factors for ``args``."""
    R, S = spec.totals["n_regions"], spec.totals["n_state"]
    return {"Q": spec.n_q, "NR": R, "NE": max(spec.totals["n_intra"], 1),
            "C": max(len(spec.couplings), 1), "V": len(spec.var_names),
            "NZ1": max(args.nsig.shape[1], 1), "M1": max(args.mvar.shape[0], 1), "S": S}


def work_length(spec, args):
    """Floats of one member's ``work`` row (every work array the scheme may use) and uint64
    of its ``wkeys`` row."""
    n = _work_sizes(spec, args)
    floats = sum(int(np.prod([n[f] for f in shape])) for shape in WORK.values())
    return floats, n["NZ1"] * n["NR"]


_MODULES = {}


def kernel(spec, cpu_source, dtype="float64"):
    """The compiled-on-first-launch CUDA module of ``spec`` in ``dtype`` (kept for the
    process)."""
    key = (spec.text(), dtype, MAX_REGISTERS)
    if key not in _MODULES:
        from .codegen import _verified
        source = _verified(cuda_source(cpu_source, _per(spec), dtype), spec)
        module = types.ModuleType(f"rb_cuda_{abs(hash(key))}")
        sys.modules[module.__name__] = module
        # the simulator's threads iterate over these globals while calling device functions:
        # the registry numpy's (ignored) overflow warnings add must exist before they start
        module.__warningregistry__ = {}
        exec(compile(source, f"<{module.__name__}>", "exec"), module.__dict__)
        _MODULES[key] = module
    return _MODULES[key]


def _per(spec):
    """"region" (a block per member) for a kernel of parallel="regions", else "member"."""
    return "region" if spec.parallel == "regions" else "member"


def device_memory():
    """Free bytes on the current CUDA device (the simulator: the host's available memory)."""
    if simulator():
        from ..simulate import _available_memory
        return _available_memory() or 2**34
    from numba import cuda
    return int(cuda.current_context().get_memory_info()[0])


def device_values(args, dtype):
    """``args``' fields as the kernel of ``dtype`` takes them: floats in ``dtype``."""
    from .abi import FIELDS

    def cast(v):
        if isinstance(v, np.ndarray) and v.dtype.kind == "f":
            return v.astype(dtype, copy=False)
        return np.dtype(dtype).type(v) if isinstance(v, float) else v
    return {f: cast(getattr(args, f)) for f in FIELDS}


def plan(spec, args, carry, free, dtype="float64"):
    """Members per launch so that their arrays fit in ``free`` bytes (half of it: room for
    the driver and the shared arrays), or a MemoryError-compatible refusal."""
    from ..simulate import SimulationMemoryError
    from .abi import FIELDS, MEMBER
    B, values = args.x0.shape[0], device_values(args, dtype)
    floats, keys = work_length(spec, args)
    member = np.dtype(dtype).itemsize * (carry + floats) + 8 * keys + sum(
        values[f].nbytes // B for f in FIELDS if f in MEMBER)
    shared = sum(np.asarray(values[f]).nbytes for f in FIELDS if f not in MEMBER)
    per_launch = int((0.5 * free - shared) // member)
    if per_launch < 1:
        raise SimulationMemoryError(f"one batch member needs {_mib(member)} of device memory "
                                    f"besides {_mib(shared)} shared by all, but {_mib(free)} "
                                    "are free (half is kept for the driver): shorten the run or "
                                    "record less", shared + member, free)
    return min(B, per_launch), member, shared


def _mib(n):
    return f"{n / 2**20:.3g} MiB"


def run(spec, cpu_source, args, carry, threads=None, dtype="float64"):
    """Run every member of ``args`` on the device, in launches of as many members as fit and
    chunks of steps of about :data:`CHUNK_SECONDS` (:func:`_next_chunk`); outputs copied back into
    ``args`` (out, status, mout).
    ``threads``: per block (default: 64 members, or :func:`_block_threads`); ``dtype``: of
    the device's arrays and arithmetic.
    Returns True if interrupted by Ctrl-C (between chunks)."""
    from numba import cuda
    from .abi import MEMBER
    module, per = kernel(spec, cpu_source, dtype), _per(spec)
    B, n_steps, R = args.x0.shape[0], args.n_steps, spec.totals["n_regions"]
    threads = threads or (64 if per == "member" else _block_threads(R))
    size, member, shared = plan(spec, args, carry, device_memory(), dtype)
    logger.info(f"CUDA: {B} member(s) in launches of {size} ({_mib(member)} per member, "
                f"{_mib(shared)} shared), {threads} threads per "
                + ("block" if per == "member" else "member"))
    values = device_values(args, dtype)
    shared_d = {f: cuda.to_device(np.ascontiguousarray(v)) for f, v in values.items()
                if f not in MEMBER and isinstance(v, np.ndarray)}
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        if simulator():     # numpy warns where the noise keys' uint64 products wrap, as meant
            warnings.simplefilter("ignore", RuntimeWarning)
        interrupted = _launches(module, spec, args, values, shared_d, carry, size, per, threads)
    logger.info(f"CUDA: {B} x {n_steps} steps in {time.perf_counter() - t0:.3f} s")
    return interrupted


def _block_threads(n_regions):
    """Threads of a member's block: a warp per 32 regions, up to 256 (more regions: several
    per thread). In the simulator, where each is a Python thread, two: the fewest that still
    share the regions and meet at the barriers."""
    return min(2, n_regions) if simulator() else min(256, 32 * -(-n_regions // 32))


#: seconds one launch should take: Ctrl-C and progress lines come between launches
CHUNK_SECONDS = 0.5


def _next_chunk(steps, seconds):
    """Steps of the next launch after one of ``steps`` took ``seconds``: about CHUNK_SECONDS,
    growing at most 4x a launch (the first, short, also compiled). A run's results do not
    depend on its chunks."""
    return int(max(1, min(4 * steps, steps * CHUNK_SECONDS / max(seconds, 1e-6))))


def _launches(module, spec, args, values, shared_d, carry, size, per, threads):
    """Launch the kernel for each part of ``size`` members, in chunks of steps. Per-member
    arrays have the member last on the device for ``per="member"``, first for "region"."""
    from numba import cuda
    from .abi import FIELDS, MEMBER
    B, n_steps = args.x0.shape[0], args.n_steps
    floats, keys = work_length(spec, args)
    last, progress = per == "member", _progress(B * n_steps)

    def device(a):      # a host array of members (first axis) in the device layout
        return cuda.to_device(np.ascontiguousarray(np.moveaxis(a, 0, -1) if last else a))

    for b0 in range(0, B, size):
        b1 = min(b0 + size, B)
        if b0 == 0 or b1 - b0 != size:
            carry_d = device(np.zeros((b1 - b0, carry), dtype=values["x0"].dtype))
            work_d = device(np.zeros((b1 - b0, floats), dtype=values["x0"].dtype))
            keys_d = device(np.zeros((b1 - b0, keys), dtype=np.uint64))
        member_d = {f: device(values[f][b0:b1]) for f in FIELDS if f in MEMBER}
        call = [member_d.get(f, shared_d.get(f, values[f])) for f in FIELDS]
        blocks = -(-(b1 - b0) // threads) if last else b1 - b0

        def launch(n0, n1):
            module.run[blocks, threads](*call, 0, b1 - b0, n0, n1, carry_d, work_d, keys_d)
            cuda.synchronize()
            progress((b1 - b0) * (n1 - n0))
        interrupted = _in_chunks(launch, n_steps)
        for f in ("out", "status", "mout"):
            host = member_d[f].copy_to_host()
            getattr(args, f)[b0:b1] = np.moveaxis(host, -1, 0) if last else host
        if interrupted:         # this launch's members stopped with their chunk, the rest unrun
            status = args.status[b0:]
            status[(status[:, 0] == -1) & (status[:, 2] < n_steps), 0] = -2
            status[b1 - b0:, 0] = -2
            return True
    return False


def _in_chunks(launch, n_steps):
    """``launch(n0, n1)`` over steps 0 ... n_steps in chunks (:func:`_next_chunk`); True if
    Ctrl-C stopped it (after the running launch: the device finishes it)."""
    from numba import cuda
    n0, steps = 0, 64
    while n0 < n_steps:
        n1, t = min(n0 + steps, n_steps), time.perf_counter()
        try:
            launch(n0, n1)
        except KeyboardInterrupt:
            cuda.synchronize()
            return True
        steps, n0 = _next_chunk(steps, time.perf_counter() - t), n1
    return False


def _progress(total):
    """A callable taking member-steps done, logging progress every 5 s (as the CPU's run)."""
    from ..simulate import _log_progress
    state = {"done": 0, "t0": time.perf_counter(), "shown": time.perf_counter()}

    def add(member_steps):
        state["done"] += member_steps
        if time.perf_counter() - state["shown"] > 5.0:
            state["shown"] = time.perf_counter()
            _log_progress(state["done"], total, state["shown"] - state["t0"])
    return add
