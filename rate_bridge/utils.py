"""Logging, ``verbose`` handling, docstring filling and the argument checks shared by every
module.

One vocabulary for mistakes:

- a value of the wrong type raises :class:`TypeError` (:func:`validate_type`);
- an option outside its documented choices raises :class:`ValueError` (:func:`check_option`);
- a name that refers to nothing (a variable, parameter, state, region, node, operator,
  template, montage, helmet, channel type...) raises :class:`UnknownNameError`
  (:func:`check_known`), which is both a ``KeyError`` and a ``ValueError``.
"""
import difflib
import functools
import inspect
import logging
import math
import numbers
import os
import re
import reprlib
from collections.abc import Hashable

import numpy as np

logger = logging.getLogger("rate_bridge")
if not logger.handlers:
    _handler = logging.StreamHandler()
    _handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(_handler)
    logger.setLevel(logging.WARNING)
    logger.propagate = False

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
           "error": logging.ERROR, "critical": logging.CRITICAL}


def _to_level(verbose):
    if verbose is None:
        return None
    if isinstance(verbose, bool):
        return logging.INFO if verbose else logging.WARNING
    if isinstance(verbose, str):
        return _LEVELS[check_option("verbose", verbose.lower(), sorted(_LEVELS),
                                    extra=" (or a bool or an int)")]
    return int(validate_type(verbose, "int", "verbose", "a bool, a str, an int or None"))


def set_log_level(verbose):
    """Set the package's logging level (``True``/``False``, ``"info"``, ``"debug"``, an int...)."""
    logger.setLevel(_to_level(verbose) or logging.WARNING)


def verbose(func):
    """Decorate ``func`` so that its ``verbose`` argument sets the log level for the call only."""
    sig = inspect.signature(func)
    if "verbose" not in sig.parameters:
        raise TypeError(f"{func.__name__} has no 'verbose' argument")

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        bound = sig.bind_partial(*args, **kwargs)
        level = _to_level(bound.arguments.get("verbose"))
        if level is None:
            return func(*args, **kwargs)
        old = logger.level
        logger.setLevel(level)
        try:
            return func(*args, **kwargs)
        finally:
            logger.setLevel(old)
    return fill_doc(wrapper)


def warn(message, category=UserWarning):
    """``warnings.warn`` pointing at the user's code: the first frame outside this package
    (a fixed ``stacklevel`` breaks whenever a helper or a decorator adds a frame)."""
    import sys
    import warnings
    package = os.path.dirname(os.path.abspath(__file__))
    frame, level = sys._getframe(1), 2        # stacklevel 2: the caller of warn()
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


# -- docstrings ---------------------------------------------------------------------------
#: Shared docstring entries: the placeholder ``%`` ``(key)s`` on a line of a docstring is
#: replaced by ``docdict[key]`` by :func:`fill_doc` (and by :func:`verbose`, which fills the
#: docstring of every function it decorates).
docdict = {
    "verbose": """verbose : bool | str | int | None
    Log level for this call: ``True`` or ``"info"``, ``False`` or ``"warning"``, ``"debug"``,
    an int of :mod:`logging`; None keeps the package's level (:func:`set_log_level`).""",
}

_DOC_KEY = re.compile(r"%\((\w+)\)s")


def fill_doc(obj):
    """Replace each placeholder (``%`` then ``(key)s``) of ``obj.__doc__`` by
    ``docdict[key]``, indented as its line.

    Plain text substitution (not ``%`` formatting): other ``%`` signs in a docstring stay as
    they are. An unknown key fails at import, so no placeholder can reach a user.
    """
    doc = obj.__doc__
    if not doc or "%(" not in doc:
        return obj

    def entry(match):
        key = match.group(1)
        if key not in docdict:
            raise KeyError(f"{getattr(obj, '__qualname__', obj)!s}: docstring entry "
                           f"%({key})s is not in rate_bridge.utils.docdict {sorted(docdict)}")
        line_start = doc.rfind("\n", 0, match.start()) + 1
        indent = re.match(r"[ \t]*", doc[line_start:match.start()]).group()
        return docdict[key].replace("\n", "\n" + indent)

    obj.__doc__ = _DOC_KEY.sub(entry, doc)
    return obj


# -- argument checks -------------------------------------------------------------------------
_REPR = reprlib.Repr()
_REPR.maxstring, _REPR.maxother, _REPR.maxlist, _REPR.maxdict = 60, 60, 6, 6


def short_repr(value):
    """``repr(value)`` cut to a readable length (for messages)."""
    return _REPR.repr(value)


class UnknownNameError(KeyError, ValueError):
    """A name that refers to nothing: a variable, parameter, state, region, node, operator,
    template, montage, helmet, channel type...

    Both a ``KeyError`` (a failed look-up) and a ``ValueError`` (a bad argument value), so
    that ``except KeyError`` and ``except ValueError`` both catch it. ``str()`` is the plain
    message (a ``KeyError`` alone would print it quoted).
    """

    def __str__(self):
        return str(self.args[0]) if len(self.args) == 1 else super().__str__()


def _listing(values, limit=20):
    values = [repr(v) for v in values]
    more = f" (and {len(values) - limit} more)" if len(values) > limit else ""
    return ", ".join(values[:limit]) + more


def _choices(allowed, extra=""):
    """``'a'``, ``'a' or 'b'``, ``one of 'a', 'b', 'c'``; ``'a', 'b'`` + extra when ``extra``
    goes on with a comma (``", a Placement or an array"``)."""
    allowed = list(allowed)
    if extra.startswith(","):
        return _listing(allowed, limit=len(allowed)) + extra
    if len(allowed) == 1:
        return repr(allowed[0]) + extra
    if len(allowed) == 2:
        return f"{allowed[0]!r} or {allowed[1]!r}{extra}"
    return f"one of {_listing(allowed, limit=len(allowed))}{extra}"


def check_option(name, value, allowed, *, extra="", error=ValueError, **context):
    """Return ``value`` if it is one of ``allowed``; otherwise raise a ``ValueError`` naming
    the argument, the allowed values and the value got.

    Parameters
    ----------
    name : str
        The argument (or field) as the user wrote it, e.g. ``"mode"`` or ``"forward.kind"``.
    value : object
        The value given.
    allowed : iterable
        The documented choices (strings, None...).
    extra : str
        Other accepted values, in words, appended to the list of choices: ``" or a positive
        number"``; one starting with a comma (``", an array or a Placement"``) goes on from
        the choices listed with commas.
    error : type
        The exception raised: ``ValueError`` or one of its subclasses that names where the
        value comes from (``ModelError`` for a model file, ``ConfigError``...).
    **context
        Passed to ``error`` (e.g. ``file=``, ``field=`` of a ``ModelError``).
    """
    allowed = list(allowed)
    if not (isinstance(value, Hashable) and not isinstance(value, np.ndarray)
            and any(value is a or (type(value) is not bool and value == a) for a in allowed)):
        raise error(f"{name} must be {_choices(allowed, extra)}, got {short_repr(value)}",
                    **context)
    return value


def check_known(name, known, what, *, where=""):
    """Return ``name`` if it is one of ``known``; otherwise raise :class:`UnknownNameError`
    naming it, the closest known names and (the first of) the known ones.

    Parameters
    ----------
    name : str
        The name looked up.
    known : iterable of str
        The names that exist.
    what : str
        What the name names, e.g. ``"parameter"`` or ``"region"``.
    where : str
        Prefix saying where the name was given, e.g. ``"initial_state: "``.
    """
    known = list(known)
    if isinstance(name, Hashable) and name in known:
        return name
    close = difflib.get_close_matches(name, [k for k in known if isinstance(k, str)], 3) \
        if isinstance(name, str) else []
    hint = f" (did you mean {_listing(close)}?)" if close else ""
    raise UnknownNameError(f"{where}unknown {what} {short_repr(name)}{hint}; {what}s: "
                           f"{_listing(known) or 'none'}")


def region_indices(regions, labels):
    """Indices of ``regions`` (labels or indices, one or a list) among ``labels``.

    An unknown label raises :class:`UnknownNameError`, an index out of range ``IndexError``.
    """
    single = isinstance(regions, (str, numbers.Integral))
    idx = []
    for r in [regions] if single else list(regions):
        if isinstance(r, str):
            idx.append(labels.index(check_known(r, labels, "region")))
            continue
        validate_type(r, "int", "region", "a region label (str) or index (int)")
        if not 0 <= r < len(labels):
            raise IndexError(f"region index {r} out of range 0..{len(labels) - 1}")
        idx.append(int(r))
    return np.asarray(idx, dtype=np.int64)


#: readable names of the type shortcuts of :func:`validate_type`
_TYPE_SHORTCUTS = {
    "int": ("an int", lambda v: isinstance(v, numbers.Integral)
            and not isinstance(v, (bool, np.bool_))),
    "numeric": ("a number", lambda v: isinstance(v, numbers.Real)
                and not isinstance(v, (bool, np.bool_))),
    "path-like": ("a str or path-like", lambda v: isinstance(v, (str, os.PathLike))),
    "callable": ("a callable", callable),
    None: ("None", lambda v: v is None),
}


def _type_name(t):
    if t in _TYPE_SHORTCUTS:
        return _TYPE_SHORTCUTS[t][0]
    name = t.__name__ if t.__module__ in ("builtins", "rate_bridge") or \
        t.__module__.startswith("rate_bridge.") else f"{t.__module__.split('.')[0]}.{t.__name__}"
    vowel_sound = name[0].lower() in "aeiou" or name.startswith(("mne.", "nd"))
    return f"{'an' if vowel_sound else 'a'} {name}"


def validate_type(value, types, name, type_name=None, *, error=TypeError, **context):
    """Return ``value`` if it is an instance of ``types``; otherwise raise a ``TypeError``
    naming the argument, the expected types and the type got.

    Parameters
    ----------
    value : object
        The value given.
    types : type | str | None | tuple
        Accepted types; the shortcuts ``"int"`` (an integer, not a bool), ``"numeric"`` (a
        real number, not a bool), ``"path-like"``, ``"callable"`` and None (the value None).
    name : str
        The argument as the user wrote it, e.g. ``"n_jobs"`` or ``"params[0]"``.
    type_name : str | None
        What was expected, in words, when the generated text is not the best description.
    error : type
        The exception raised: ``TypeError``, or the error of the input's origin
        (``ModelError`` for a model file, whose fields are values, not arguments).
    **context
        Passed to ``error`` (e.g. ``file=``, ``field=`` of a ``ModelError``).
    """
    types = types if isinstance(types, tuple) else (types,)
    for t in types:
        if t in _TYPE_SHORTCUTS:
            if _TYPE_SHORTCUTS[t][1](value):
                return value
        elif isinstance(value, t):
            return value
    if type_name is None:
        words = [_type_name(t) for t in types]
        type_name = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]
    raise error(f"{name} must be {type_name}, got {type(value).__name__} {short_repr(value)}",
                **context)


def finite_number(value, name):
    """``value`` as a finite float, or an error naming ``name`` (a TypeError for anything but a
    real number, bools included; a ValueError for NaN and inf)."""
    validate_type(value, "numeric", name)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}")
    return float(value)


def whole_steps(seconds, dt, name):
    """The number of steps ``dt`` in ``seconds`` (>= 1), or a ValueError naming ``name`` when
    it is not a whole multiple of dt."""
    ratio = seconds / dt
    k = int(round(ratio))
    if k < 1 or abs(ratio - k) > 1e-6 * max(1.0, ratio):
        raise ValueError(f"{name} = {seconds:g} s must be a whole multiple of the step "
                         f"dt = {dt:g} s")
    return k


def progress_bar(iterable, *, desc=None, verbose=None):
    """MNE's progress bar (``mne.utils.ProgressBar``) over ``iterable`` when logging is at INFO
    or lower; the bare iterable otherwise."""
    level = _to_level(verbose) or logger.level
    if level > logging.INFO:
        return iterable
    from mne.utils import ProgressBar
    return ProgressBar(iterable, mesg=desc or "")
