"""Domain events sent by the ingest pipeline, for the event stream, webhooks and metrics.

Every signal is sent inside the database transaction that stored the change, so a receiver that
writes to the database (an event-history row, a webhook delivery row) commits or rolls back with
it; a receiver that talks to the outside world must defer that with ``transaction.on_commit``.
Receivers must be cheap: they run on the ingest hot path.
"""

from django.dispatch import Signal

# A report was stored. kwargs: report (reports.models.Report), node (inventory.models.Node, with
# its latest_* columns already updated), previous_status (str | None: the node's
# latest_report_status before this report).
report_stored = Signal()

# A node's latest report status changed (e.g. unchanged -> failed). kwargs: node, previous_status,
# status, report.
node_status_changed = Signal()

# A node became inactive. kwargs: node, reason ("deactivated" or "expired").
node_deactivated = Signal()

# A command failed on its last try and was kept as dead. kwargs: command (ingest.models.Command).
command_dead = Signal()
