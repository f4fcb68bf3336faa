"""The mechanisms: one module per phase of the day, in the order GovernanceModel.step runs them."""

from sim.mechanisms.actors import Actors
from sim.mechanisms.arising import Arising
from sim.mechanisms.assessment import Assessment
from sim.mechanisms.bias import Bias
from sim.mechanisms.costs import Costs
from sim.mechanisms.early_warning import EarlyWarning
from sim.mechanisms.escalation import Escalation
from sim.mechanisms.experience import Experience
from sim.mechanisms.handling import Handling
from sim.mechanisms.patrol import Patrol
from sim.mechanisms.platform import PlatformLife
from sim.mechanisms.privacy import Privacy
from sim.mechanisms.reporting import Reporting
from sim.mechanisms.risk import RiskPrediction
from sim.mechanisms.routing import Routing

__all__ = ["PlatformLife", "Arising", "Reporting", "Patrol", "Actors", "Routing", "Bias", "EarlyWarning", "RiskPrediction",
           "Handling", "Escalation", "Assessment", "Experience", "Privacy", "Costs"]
