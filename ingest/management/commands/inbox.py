"""``manage.py inbox list [--state dead]`` / ``inbox replay (--all | ID...)`` / ``inbox requeue``."""

from django.core.management.base import BaseCommand, CommandError

from ingest import inbox
from ingest.models import CommandState


class Command(BaseCommand):
    help = "List, replay and re-queue commands in the ingest inbox."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        lst = sub.add_parser("list", help="list commands (dead ones by default)")
        lst.add_argument("--state", default="dead", choices=[c for c, _ in CommandState.choices])
        lst.add_argument("--limit", type=int, default=100)
        rep = sub.add_parser("replay", help="re-queue dead commands")
        rep.add_argument("ids", nargs="*", type=int)
        rep.add_argument("--all", action="store_true", help="every dead command")
        req = sub.add_parser("requeue", help="publish tasks for pending commands now")
        req.add_argument("--older-than", type=float, default=0.0)

    def handle(self, *args, **options):
        from ingest.models import Command as InboxCommand

        action = options["action"]
        if action == "list":
            rows = InboxCommand.objects.filter(state=options["state"]).defer("payload").order_by("-received_at")
            for cmd in rows[: options["limit"]]:
                error = cmd.last_error.splitlines()[0][:120] if cmd.last_error else ""
                self.stdout.write(
                    f"{cmd.id}\t{cmd.uuid}\t{cmd.command} v{cmd.version}\t{cmd.certname}\t"
                    f"{cmd.received_at:%Y-%m-%dT%H:%M:%SZ}\tattempts={cmd.attempts}\t{error}"
                )
        elif action == "replay":
            if options["all"]:
                ids = list(InboxCommand.objects.filter(state=CommandState.DEAD).values_list("id", flat=True))
            elif options["ids"]:
                ids = options["ids"]
            else:
                raise CommandError("give command ids or --all")
            self.stdout.write(f"replayed {inbox.replay(ids)} command(s)")
        elif action == "requeue":
            self.stdout.write(f"re-queued {inbox.requeue_stuck(older_than=options['older_than'])} command(s)")
