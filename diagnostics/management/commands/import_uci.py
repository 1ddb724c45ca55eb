from django.core.management.base import BaseCommand, CommandError

from diagnostics.services.uci_import import ImportRejected, import_uci


class Command(BaseCommand):
    help = "Import a Garvan/UCI thyroid0387-format file: one patient per record id, one lab panel per record."

    def add_arguments(self, parser):
        parser.add_argument("path", help="path to thyroid0387.data (or a file in the same format)")
        parser.add_argument("--skip-bad", action="store_true", help="import the good lines and list the rejected ones")

    def handle(self, *args, path: str, skip_bad: bool, **options):
        try:
            report = import_uci(path, skip_bad=skip_bad)
        except FileNotFoundError:
            raise CommandError(f"{path}: no such file") from None
        except ImportRejected as rejected:
            for error in rejected.errors[:50]:
                self.stderr.write(f"line {error.line}: {error.reason}")
            if len(rejected.errors) > 50:
                self.stderr.write(f"... and {len(rejected.errors) - 50} more")
            raise CommandError(
                f"{len(rejected.errors)} malformed line(s): nothing imported (use --skip-bad to import the rest)"
            ) from None
        for warning in report.warnings:
            self.stdout.write(f"warning: line {warning.line}: {warning.reason}")
        for error in report.rejected:
            self.stdout.write(f"rejected: line {error.line}: {error.reason}")
        counts = ", ".join(f"{name} {count}" for name, count in sorted(report.class_counts.items()))
        self.stdout.write(
            self.style.SUCCESS(
                f"{report.records} records read: {report.created_patients} patients and "
                f"{report.created_panels} panels created ({counts or 'none new'}); "
                f"{report.already_present} already present; {len(report.rejected)} rejected"
            )
        )
