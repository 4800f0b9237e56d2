from django.db import migrations
from django.utils import timezone


def open_spells(apps, schema_editor):
    """Federations online when uptime starts being recorded are online from their last report on (their
    time before is unknown, and counted as offline)."""
    LiveState = apps.get_model("federations", "LiveState")
    OnlineSpell = apps.get_model("federations", "OnlineSpell")
    now = timezone.now()
    online = LiveState.objects.filter(status="online").exclude(federation__online_spells__ended__isnull=True)
    batch = []
    for federation_id, last_update in online.values_list("federation_id", "last_update").iterator(chunk_size=5000):
        batch.append(OnlineSpell(federation_id=federation_id, started=last_update or now))
        if len(batch) == 5000:
            OnlineSpell.objects.bulk_create(batch)
            batch = []
    OnlineSpell.objects.bulk_create(batch)


class Migration(migrations.Migration):
    dependencies = [("federations", "0008_standing_and_uptime")]

    operations = [migrations.RunPython(open_spells, migrations.RunPython.noop)]
