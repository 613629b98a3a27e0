"""Logging, ``verbose`` handling and small validation helpers shared by every module."""
import functools
import inspect
import logging

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
        try:
            return _LEVELS[verbose.lower()]
        except KeyError:
            raise ValueError(f"verbose must be one of {sorted(_LEVELS)}, a bool or an int, "
                             f"got {verbose!r}") from None
    return int(verbose)


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
    return wrapper


def validate_type(value, types, name, type_name=None):
    """Raise a TypeError that says what was expected and what was got."""
    if not isinstance(value, types):
        expected = type_name or (" or ".join(t.__name__ for t in types)
                                 if isinstance(types, tuple) else types.__name__)
        raise TypeError(f"{name} must be {expected}, got {type(value).__name__} ({value!r:.80})")
    return value


def progress_bar(iterable, *, desc=None, verbose=None):
    """MNE's progress bar (``mne.utils.ProgressBar``) over ``iterable`` when logging is at INFO
    or lower; the bare iterable otherwise."""
    level = _to_level(verbose) or logger.level
    if level > logging.INFO:
        return iterable
    from mne.utils import ProgressBar
    return ProgressBar(iterable, mesg=desc or "")
