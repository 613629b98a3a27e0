"""Errors of the model language, each naming where the problem is."""
from ..utils import UnknownNameError


class ModelError(ValueError):
    """A model definition is invalid.

    The message names the file, template, operator and equation (when known), so that a user
    can go straight to the faulty line.
    """

    def __init__(self, message, *, file=None, template=None, operator=None, equation=None,
                 field=None):
        self.file, self.template, self.operator = file, template, operator
        self.equation, self.field = equation, field
        where = [f"{k} {v!r}" for k, v in (("file", file), ("template", template),
                                           ("operator", operator), ("field", field),
                                           ("equation", equation)) if v is not None]
        self.reason = message
        super().__init__(f"{message} (in {', '.join(where)})" if where else message)

    def within(self, **context):
        """Return a copy with missing context filled in (inner context wins)."""
        merged = {k: getattr(self, k) for k in ("file", "template", "operator", "equation",
                                                  "field")}
        for key, value in context.items():
            if merged.get(key) is None:
                merged[key] = value
        return type(self)(self.reason, **merged)


class UnknownModelNameError(ModelError, UnknownNameError):
    """A model refers to a name that does not exist: a template, node, variable or function.

    A :class:`ModelError` (hence a ``ValueError``) and a
    :class:`~rate_bridge.utils.UnknownNameError` (hence a ``KeyError``), like every unknown
    name of the package.
    """
