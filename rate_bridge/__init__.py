"""rate_bridge: rate-based neural simulation compiled with numba, speaking MNE and TVB."""
__version__ = "0.1.0.dev0"

from .utils import set_log_level, UnknownNameError  # noqa: E402
from .result import Result, ResultBatch, read_result  # noqa: E402
from . import adapters, forward_models  # noqa: E402
from .model import load_template, Circuit, Node, Operator, Edge, Variable, ModelError  # noqa
from .network import Network, Coupling  # noqa: E402
from .simulate import (simulate, SimulationDiverged, SimulationInterrupted,  # noqa: E402
                       SimulationMemoryError)
from . import measures, monitors, viz  # noqa: E402
from . import fit  # noqa: E402
