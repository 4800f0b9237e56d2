from django.core.management.base import BaseCommand, CommandError

from federations import demo
from federations.models import Federation


class Command(BaseCommand):
    help = "Add realistic demo federations (idempotent: demo federation N is always the same)."

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, default=40, help="how many demo federations to have (default 40)")
        parser.add_argument("--if-empty", action="store_true", help="do nothing when the catalog has any federation")

    def handle(self, *args, count, if_empty, **options):
        if count < 0:
            raise CommandError("--count cannot be negative.")
        if if_empty and Federation.objects.exists():
            self.stdout.write("The catalog is not empty: no demo data added.")
            return
        added = demo.seed(count)
        self.stdout.write(f"Demo federations: {added} added, {count - added} already there.")
