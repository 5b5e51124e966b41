"""``python -m shop_ops``: the same as the ``shop-ops`` console script."""

from shop_ops.cli import main

raise SystemExit(main())
