"""The one exception the query layer raises for bad input."""


class QueryError(ValueError):
    """A query that cannot be run as written. The message is safe to show to users: it names
    the problem in the query and never contains SQL or database internals."""
