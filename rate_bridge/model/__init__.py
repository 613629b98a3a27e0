"""The model language: safe equations, operators, nodes, edges, circuits and YAML templates."""
from .errors import ModelError, UnknownModelNameError
from .expressions import FUNCTIONS, parse_equation, parse_expression
from .loader import library_templates, list_templates, load_template
from .templates import Circuit, Edge, Node, Operator, Variable

__all__ = ["ModelError", "UnknownModelNameError", "FUNCTIONS", "parse_equation",
           "parse_expression", "library_templates", "list_templates", "load_template", "Circuit",
           "Edge", "Node", "Operator", "Variable"]
