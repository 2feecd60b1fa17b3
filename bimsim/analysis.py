"""Fits and summary statistics used by the protocols and the figures."""

import warnings

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit

__all__ = ["FitFailed", "fit_exponential", "fit_stdp_window", "weighted_error"]


class FitFailed(ValueError):
    """A fit did not converge to finite parameters (e.g. a flat curve): nothing to report."""


def _decay(x, amplitude, tau):
    return amplitude * np.exp(-x / tau)


def fit_exponential(x, y):
    """Least-squares fit of ``y = amplitude * exp(-x / tau)`` for ``x >= 0``.

    Parameters
    ----------
    x, y : array_like
        Distances (plain numbers, e.g. ms) and values; at least three points.

    Returns
    -------
    (amplitude, tau), (amplitude_stderr, tau_stderr)
        Best-fit parameters and standard errors from the fit's covariance.

    Raises
    ------
    ValueError
        If there are too few points or the fit does not converge to finite values.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) < 3:
        raise ValueError(f"an exponential fit needs at least 3 points, got {len(x)}")
    # Start from the log-linear fit of the points with the sign of the largest one.
    sign = np.sign(y[np.argmax(np.abs(y))]) or 1.0
    usable = sign * y > 0
    if usable.sum() >= 2:
        slope, intercept = np.polyfit(x[usable], np.log(sign * y[usable]), 1)
        p0 = (sign * np.exp(intercept), -1.0 / slope if slope < 0 else np.ptp(x))
    else:
        p0 = (y[np.argmin(x)], np.ptp(x) or 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimizeWarning)
        try:
            params, covariance = curve_fit(_decay, x, y, p0=p0, maxfev=10000)
        except RuntimeError as err:  # scipy's "Optimal parameters not found"
            raise FitFailed(f"the exponential fit did not converge ({err})") from None
    errors = np.sqrt(np.abs(np.diag(covariance)))
    if not (np.all(np.isfinite(params)) and np.all(np.isfinite(errors))):
        raise FitFailed("the exponential fit did not converge")
    return tuple(params), tuple(errors)


def fit_stdp_window(delta_t, dw):
    """Fit the pair window ``A+ exp(-Δt/τ+)`` (Δt >= 0) and ``-A- exp(Δt/τ-)`` (Δt < 0).

    Parameters
    ----------
    delta_t : array_like
        ``t_post - t_pre`` in ms (plain numbers).
    dw : array_like
        Weight change per pairing at each Δt.

    Returns
    -------
    dict
        ``a_plus``, ``tau_plus``, ``a_minus``, ``tau_minus`` (A± as positive magnitudes, τ± in ms)
        and the same names with ``_stderr``.
    """
    delta_t, dw = np.asarray(delta_t, dtype=float), np.asarray(dw, dtype=float)
    after, before = delta_t >= 0, delta_t < 0
    (a_plus, tau_plus), (a_plus_se, tau_plus_se) = fit_exponential(delta_t[after], dw[after])
    (a_minus, tau_minus), (a_minus_se, tau_minus_se) = fit_exponential(
        -delta_t[before], -dw[before]
    )
    return {
        "a_plus": a_plus,
        "a_plus_stderr": a_plus_se,
        "tau_plus": tau_plus,
        "tau_plus_stderr": tau_plus_se,
        "a_minus": a_minus,
        "a_minus_stderr": a_minus_se,
        "tau_minus": tau_minus,
        "tau_minus_stderr": tau_minus_se,
    }


def weighted_error(model, data, sem):
    """Normalised mean-square error ``mean(((model - data) / sem) ** 2)``.

    The measure Pfister & Gerstner (2006) minimise when fitting plasticity rules to data.
    """
    model, data, sem = (np.asarray(a, dtype=float) for a in (model, data, sem))
    if np.any(sem <= 0):
        raise ValueError("standard errors must be positive")
    return float(np.mean(((model - data) / sem) ** 2))
