"""ELBv2: load balancers described by moto; each HTTP(S) listener served on 127.0.0.1 (see frontends.py)."""

from tools.local_aws.elbv2.patches import PATCHES

__all__ = ["PATCHES"]
