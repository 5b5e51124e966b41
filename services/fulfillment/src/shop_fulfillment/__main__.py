"""``python -m shop_fulfillment http|worker|migrate``."""

from shop_fulfillment.bootstrap import DEFINITION
from shop_runtime.cli import run_service

if __name__ == "__main__":
    run_service(DEFINITION)
