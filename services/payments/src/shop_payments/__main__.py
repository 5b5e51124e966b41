"""``python -m shop_payments http|worker|migrate``."""

from shop_payments.bootstrap import DEFINITION
from shop_runtime.cli import run_service

if __name__ == "__main__":
    run_service(DEFINITION)
