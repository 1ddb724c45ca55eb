from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django_celery_beat.models import CrontabSchedule, PeriodicTask

TASK_NAME = "Periodic retrain"
TASK = "diagnostics.periodic_retrain"


class Command(BaseCommand):
    help = (
        "Create or update the django-celery-beat schedule of the periodic retrain (disabled unless --enable). "
        "Each run trains a candidate model; promoting it stays a data manager's decision."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--cron", default="0 3 * * 0", help='minute hour day-of-month month day-of-week (default "0 3 * * 0")'
        )
        state = parser.add_mutually_exclusive_group()
        state.add_argument("--enable", action="store_true", help="turn the schedule on")
        state.add_argument("--disable", action="store_true", help="turn the schedule off")

    def handle(self, *args, cron: str, enable: bool, disable: bool, **options):
        fields = cron.split()
        if len(fields) != 5:
            raise CommandError(f"--cron {cron!r} needs five fields: minute hour day-of-month month day-of-week")
        minute, hour, day_of_month, month_of_year, day_of_week = fields
        schedule, _ = CrontabSchedule.objects.get_or_create(
            minute=minute,
            hour=hour,
            day_of_month=day_of_month,
            month_of_year=month_of_year,
            day_of_week=day_of_week,
            timezone=settings.TIME_ZONE,
        )
        task, created = PeriodicTask.objects.get_or_create(
            name=TASK_NAME, defaults={"task": TASK, "crontab": schedule, "enabled": False}
        )
        task.task, task.crontab = TASK, schedule
        if enable or disable:
            task.enabled = enable
        task.save()
        state = "enabled" if task.enabled else "disabled"
        self.stdout.write(f"{TASK_NAME}: {cron} ({settings.TIME_ZONE}), {state}{' (created)' if created else ''}")
