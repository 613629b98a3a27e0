"""The kernels' branch-free exp and finite test against libm (an independent implementation)."""
import importlib.util
import math

import numpy as np
import pytest

from rate_bridge.compile.vecmath import NONFINITE, VECMATH_IMPORTS, VECMATH_SOURCE


@pytest.fixture(scope="module")
def vm(tmp_path_factory):
    path = tmp_path_factory.mktemp("vecmath") / "vecmath_kernel.py"
    path.write_text("import math\n\nimport numpy as np\n" + VECMATH_IMPORTS
                    + "from numba import njit\n" + VECMATH_SOURCE + '''

@njit(cache=True, fastmath={"contract"})   # as in the kernels
def exp_all(x, out):
    for i in range(x.shape[0]):
        out[i] = _fexp(x[i])


@njit(cache=True, fastmath={"contract"})   # as in the kernels
def log_all(x, out):
    for i in range(x.shape[0]):
        out[i] = _flog(x[i])


@njit(cache=True, fastmath={"contract"})   # as in the kernels
def cos2pi_all(u, out):
    for i in range(u.shape[0]):
        out[i] = _fcos2pi(u[i])


@njit(cache=True, fastmath={"contract"})   # as in the kernels
def n_nonfinite(x):
    n = 0
    for i in range(x.shape[0]):
        n += ''' + NONFINITE.format("x[i]") + '''
    return n

''')
    spec = importlib.util.spec_from_file_location("vecmath_kernel", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fexp_matches_libm_to_an_ulp(vm):
    rng = np.random.default_rng(1)
    x = np.concatenate([np.linspace(-708, 709.7, 200001), rng.uniform(-30, 30, 100000),
                        rng.normal(0, 1e-3, 1000), [0.0, -0.0, 1.0, -1.0, 0.5 * math.log(2)]])
    out = np.empty_like(x)
    vm.exp_all(x, out)
    ref = np.array([math.exp(v) for v in x])
    rel = np.abs(out - ref) / ref
    assert rel.max() < 3e-16          # ~1 ulp
    assert out[x == 0.0].tolist() == [1.0, 1.0]


def test_fexp_edges(vm):
    x = np.array([710.0, 1e300, np.inf, -708.5, -746.0, -np.inf, np.nan])
    out = np.empty_like(x)
    vm.exp_all(x, out)
    assert np.isinf(out[:3]).all() and (out[:3] > 0).all()
    assert (out[3:6] == 0.0).all()             # flushed below ~3e-308 (libm: subnormal or 0)
    assert np.isnan(out[6])


def test_nonfinite_counts_nan_and_inf_only(vm):
    x = np.array([0.0, -1.5, 1e308, 5e-324, -0.0, np.finfo(float).max])
    assert vm.n_nonfinite(x) == 0
    x[[1, 3]] = [np.inf, np.nan]
    assert vm.n_nonfinite(x) == 2
    x[0] = -np.inf
    assert vm.n_nonfinite(x) == 3


def test_flog_matches_libm(vm):
    rng = np.random.default_rng(2)
    # the uniforms of Box-Muller are in (2**-53, 1]; cover those and a wide range of normals
    x = np.concatenate([rng.uniform(0, 1, 200000) + 2.0 ** -53, 2.0 ** -np.arange(0, 54),
                        np.exp(rng.uniform(-700, 700, 100000)), [1.0, 2.0, 0.5, math.sqrt(2)]])
    out = np.empty_like(x)
    vm.log_all(x, out)
    ref = np.log(x.astype(np.longdouble))
    rel = np.abs(out - ref) / np.maximum(np.abs(ref), 1e-300)
    assert rel.max() < 5e-16            # a few ulp (libm: 1 ulp); ample for Box-Muller
    assert out[-4] == 0.0


def test_fcos2pi_matches_libm(vm):
    rng = np.random.default_rng(3)
    u = np.concatenate([rng.uniform(0, 1, 300000), np.arange(0, 1, 1 / 64)])
    out = np.empty_like(u)
    vm.cos2pi_all(u, out)
    # reference in long double: cos(2 pi u) in doubles already errs by ~|2 pi u| eps
    ref = np.cos(2 * np.pi * u.astype(np.longdouble) * (np.arccos(np.longdouble(-1)) / np.pi))
    assert np.abs(out - ref).max() < 2.5e-16       # absolute: cos is ~0 at quarter turns
    assert out[300000:][[0, 16, 32, 48]].tolist() == [1.0, 0.0, -1.0, 0.0]
