import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the local operator account on first run (password saved in var/) and print how to log in."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="operator")

    def handle(self, *args, username, **options):
        User = get_user_model()
        password_file = settings.VAR_DIR / "operator-password.txt"
        if not User.objects.filter(username=username).exists():
            password = secrets.token_urlsafe(12)
            User.objects.create_superuser(username=username, email="", password=password)
            password_file.parent.mkdir(parents=True, exist_ok=True)
            password_file.touch(mode=0o600)
            password_file.write_text(password + "\n")
        if password_file.exists():
            self.stdout.write(f"Operator login: {username} / {password_file.read_text().strip()}  (from {password_file})")
        else:
            self.stdout.write(f"Operator login: {username} (password set earlier; `manage.py changepassword {username}`)")
