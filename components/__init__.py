"""hardstack: hardened, reusable Pulumi components for AWS.

The public API is what `__all__` lists; everything else may change without notice.
"""

from components.addressing import AddressPlan, SubnetPlan, plan_addresses
from components.context import AwsContext
from components.errors import HardstackError
from components.kms import EncryptionKey, EncryptionKeyArgs
from components.network import Network, NetworkArgs
from components.rules import Flow, Peer, Port
from components.security_group import SecurityGroup, SecurityGroupArgs

__all__ = [
    "AddressPlan",
    "AwsContext",
    "EncryptionKey",
    "EncryptionKeyArgs",
    "Flow",
    "HardstackError",
    "Network",
    "NetworkArgs",
    "Peer",
    "Port",
    "SecurityGroup",
    "SecurityGroupArgs",
    "SubnetPlan",
    "plan_addresses",
]
