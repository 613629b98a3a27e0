"""Closed-form potential of a current dipole in a homogeneous conducting sphere (for checks).

For a dipole of moment p (A·m) at r0 inside an insulated homogeneous sphere of radius R and
conductivity sigma, the potential at a point r of the surface (|r| = R, positions relative to
the centre) is, with d = r - r0,

    V(r) = 1 / (4 pi sigma) * p . [ 2 d / |d|^3 + (d / |d| + r / R) / (R |d| + R^2 - r . r0) ]

It is the dipole derivative, with respect to the source position, of the Neumann Green's
function of the ball on its boundary, G = 1/(4 pi sigma) [2/|d| + ln(2 R^2 / (R^2 - r.r0 +
R|d|)) / R] (Frank 1952, J Appl Phys 23:1225; the same closed form as in Brody et al. 1973).
The potential is defined up to a constant: compare average-referenced values.
"""
import numpy as np


def sphere_dipole_potential(electrodes, dipole_pos, moment, center=(0.0, 0.0, 0.0),
                            radius=None, sigma=0.33):
    """Surface potential (V) of a current dipole in a homogeneous sphere.

    Parameters
    ----------
    electrodes : array, shape (n, 3)
        Electrode positions (m); projected radially onto the sphere.
    dipole_pos : array, shape (3,)
        Dipole position (m), inside the sphere.
    moment : array, shape (3,)
        Dipole moment (A·m).
    center : array, shape (3,)
        Sphere centre (m).
    radius : float | None
        Sphere radius (m); default the mean electrode distance from the centre.
    sigma : float
        Conductivity (S/m).

    Returns
    -------
    v : ndarray, shape (n,)
        Potentials in V (up to a common constant).
    """
    c = np.asarray(center, float)
    el = np.asarray(electrodes, float) - c
    if radius is None:
        radius = float(np.linalg.norm(el, axis=1).mean())
    r = el / np.linalg.norm(el, axis=1, keepdims=True) * radius
    r0 = np.asarray(dipole_pos, float) - c
    if np.linalg.norm(r0) >= radius:
        raise ValueError("the dipole must lie inside the sphere")
    p = np.asarray(moment, float)
    d = r - r0
    dn = np.linalg.norm(d, axis=1, keepdims=True)
    term1 = 2 * d / dn ** 3
    den = radius * dn + radius ** 2 - (r @ r0)[:, None]
    term2 = (d / dn + r / radius) / den
    return (term1 + term2) @ p / (4 * np.pi * sigma)


def sphere_dipole_potential_series(electrodes, dipole_pos, moment, radius, sigma=0.33,
                                   n_terms=200):
    """The same potential from its Legendre series (centre at the origin; for cross-checks).

    V = 1/(4 pi sigma R^2) sum_n (2n+1)/n (b/R)^(n-1) [n p_r P_n(cos g) + p_t P_n^1(cos g)]
    with b = |r0|, g the angle between r and r0, p_r the radial and p_t the tangential moment
    component in the plane of r and r0 (P_n^1 without the Condon-Shortley phase).
    """
    from scipy.special import lpmv
    el = np.asarray(electrodes, float)
    u = el / np.linalg.norm(el, axis=1, keepdims=True)
    r0 = np.asarray(dipole_pos, float)
    b = np.linalg.norm(r0)
    ez = r0 / b
    p = np.asarray(moment, float)
    p_r = p @ ez
    p_perp = p - p_r * ez
    cosg = np.clip(u @ ez, -1, 1)
    # tangential direction at the electrodes' azimuth: projection of u on the plane
    t = u - cosg[:, None] * ez
    tn = np.linalg.norm(t, axis=1)
    cosphi = np.divide(t @ p_perp, tn * max(np.linalg.norm(p_perp), 1e-300),
                       out=np.zeros(len(u)), where=tn > 0)
    pt = np.linalg.norm(p_perp)
    v = np.zeros(len(u))
    for n in range(1, n_terms + 1):
        f = (2 * n + 1) / n * (b / radius) ** (n - 1)
        pn = lpmv(0, n, cosg)
        pn1 = -lpmv(1, n, cosg)  # remove scipy's Condon-Shortley phase
        v += f * (n * p_r * pn + pt * cosphi * pn1)
    return v / (4 * np.pi * sigma * radius ** 2)
