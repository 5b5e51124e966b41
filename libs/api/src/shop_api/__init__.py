"""HTTP bodies and clients: each request and response body the public API and a service's internal API share,
defined once per service (``shop_api.orders``, ``shop_api.catalog``, ...), and a typed client per service whose
methods name the operation and own its method and path."""
